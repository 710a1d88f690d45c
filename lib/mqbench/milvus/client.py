"""The one module that talks to pymilvus: a small Milvus client adapter with mqbench's fast paths.

Every other module calls :class:`Client` here, never pymilvus. Two paths keep pymilvus's
Python work out of what is measured, and both build their requests with pymilvus itself:

* **prepared search** — each query's ``SearchRequest`` is built once by pymilvus (the queries
  cycle), then sent straight on the connection's gRPC stub;
* **column insert** — pymilvus builds the ``InsertRequest`` for one row, then each batch fills
  that request's columns from numpy arrays (pymilvus's row-by-row conversion costs ~16 µs per
  row, more than the server spends);
* **prepared insert** — those requests serialized before a clock starts (:meth:`Client.prepare_insert`) and
  sent as bytes on the connection's channel (:meth:`Client.send_prepared`): at 768-d the client then spends
  about 0.2 CPU-s where the server spends 5 (50,000 rows), so the write path measures the server, not the loader.

These rely on pymilvus internals (:data:`INTERNALS`); :func:`self_check` runs when the module is
imported and fails with a clear message if a pymilvus release moved one of them.
"""
from __future__ import annotations

import time

import numpy as np
import pymilvus
from pymilvus import DataType
from pymilvus import MilvusClient as _PyMilvusClient
from pymilvus.client import call_context, prepare, ts_utils, utils
from pymilvus.grpc_gen import milvus_pb2
from pymilvus.milvus_client import base as _client_base

from mqbench.core.errors import ClientError, IngestError

ID_FIELD, VECTOR_FIELD, ATTR_FIELD = "id", "vector", "attr"
ATTR_RANGE = 10_000
TESTED_PYMILVUS = ">=3.0.2,<3.1"  # also in pyproject.toml; tests/unit/test_packaging.py keeps them in step
INTERNALS = [  # (object, attribute) pairs the fast paths use
    (_PyMilvusClient, "_get_connection"), (_client_base.BaseMilvusClient, "_generate_call_context"),
    (prepare.Prepare, "row_insert_param"), (call_context, "_api_level_md"), (utils, "check_status"),
    (ts_utils, "update_collection_ts"),
]
HANDLER_INTERNALS = ["_stub", "_final_channel", "_get_schema", "_execute_search", "server_address"]
INSERT_METHOD = "/milvus.proto.milvus.MilvusService/Insert"
POLL_S = 0.02  # how often :meth:`Client.flush`, ``load``, ``wait_indexed`` and ``compact`` ask (pymilvus: 0.2–0.5 s)


def self_check(handler=None) -> None:
    """Raise :class:`ClientError` naming what moved if pymilvus lacks an internal the fast paths use."""
    missing = [f"{getattr(owner, '__name__', owner)}.{name}" for owner, name in INTERNALS
               if not hasattr(owner, name)]
    if handler is not None:
        missing += [f"GrpcHandler.{name}" for name in HANDLER_INTERNALS if not hasattr(handler, name)]
    if missing:
        raise ClientError(f"pymilvus {pymilvus.__version__} lacks {', '.join(missing)}, which mqbench's client "
                          f"adapter relies on; install pymilvus{TESTED_PYMILVUS} (the tested range)")


self_check()


def _until(done, timeout_s: float, what: str, detail=lambda: "") -> None:
    """Call ``done()`` every :data:`POLL_S` until it is true; after ``timeout_s`` an :class:`IngestError` saying
    ``what`` (and ``detail()``, the last state seen) is not finished — the one wait of every phase that polls."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise IngestError(f"{what} not finished after {timeout_s:.0f} s{detail()}")
        time.sleep(POLL_S)


def attr_values(ids: np.ndarray) -> np.ndarray:
    """The ``attr`` column: a fixed hash of the id into [0, 10000), uncorrelated with insert order,
    so ``attr < x`` keeps about x/10000 of the rows in every segment."""
    return (np.asarray(ids, dtype=np.int64) * 2654435761) % ATTR_RANGE


class Client:
    """A connection to one Milvus, with the operations mqbench uses (collections hold an INT64 ``id``
    primary key, a ``vector`` FLOAT_VECTOR and optionally an INT64 ``attr`` for scalar filters)."""

    def __init__(self, uri: str, token: str = "", timeout: float | None = 60):
        self._client = _PyMilvusClient(uri=uri, token=token, timeout=timeout)
        self._handler = self._client._get_connection()
        self_check(self._handler)
        self._context = self._client._generate_call_context()
        self._metadata = call_context._api_level_md(self._context)
        self._templates: dict[str, tuple] = {}
        self._send = None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- collections ------------------------------------------------------------------------------------
    def create_collection(self, name: str, dim: int, attr: bool = False, shards: int = 1) -> None:
        """A fresh collection ``name`` (an old one is dropped); Bounded consistency by default."""
        if self._client.has_collection(name):
            self._client.drop_collection(name)
        schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field(ID_FIELD, DataType.INT64, is_primary=True)
        schema.add_field(VECTOR_FIELD, DataType.FLOAT_VECTOR, dim=dim)
        if attr:
            schema.add_field(ATTR_FIELD, DataType.INT64)
        self._client.create_collection(name, schema=schema, shards_num=shards, consistency_level="Bounded")
        self._templates.pop(name, None)

    def has_collection(self, name: str) -> bool:
        return self._client.has_collection(name)

    def drop_collection(self, name: str) -> None:
        self._client.drop_collection(name)
        self._templates.pop(name, None)

    def list_collections(self) -> list[str]:
        return self._client.list_collections()

    def server_version(self) -> str:
        return str(self._client.get_server_version())

    def describe(self, name: str) -> dict:
        return self._client.describe_collection(name)

    def fields(self, name: str) -> dict[str, dict]:
        return {f["name"]: f for f in self.describe(name)["fields"]}

    def dim(self, name: str) -> int:
        fields = self.fields(name)
        if VECTOR_FIELD not in fields:
            raise IngestError(f"collection {name!r} has no field {VECTOR_FIELD!r}")
        return int(fields[VECTOR_FIELD]["params"]["dim"])

    def flush(self, name: str, timeout_s: float = 3600) -> float:
        """Persist every growing segment of ``name``; returns the seconds until the server reported them flushed,
        its state polled every :data:`POLL_S` (pymilvus's ``flush()`` sleeps 0.5 s between polls)."""
        t0 = time.perf_counter()
        response = self._handler._stub.Flush(prepare.Prepare.flush_param([name]), timeout=60, metadata=self._metadata)
        utils.check_status(response.status)
        segments, flush_ts = list(response.coll_segIDs[name].data), response.coll_flush_ts[name]
        _until(lambda: self._handler.get_flush_state(segments, name, flush_ts, timeout=60), timeout_s,
               f"flush of {name!r}")
        return time.perf_counter() - t0

    def load(self, name: str, timeout_s: float = 3600) -> None:
        """Load ``name`` into the query node and wait until all of it is loaded, polling every :data:`POLL_S`."""
        self._handler.load_collection(name, timeout=60, context=self._context, _async=True)
        _until(lambda: self._handler.get_loading_progress(name, timeout=60, context=self._context) >= 100, timeout_s,
               f"loading {name!r}")

    def build_index(self, name: str, metric: str, index_type: str, params: dict, timeout_s: float = 3600) -> None:
        """Create the vector index and wait until every row is indexed."""
        index_params = self._client.prepare_index_params()
        index_params.add_index(field_name=VECTOR_FIELD, index_type=index_type, metric_type=metric,
                               params=dict(params))
        self._client.create_index(name, index_params)
        self.wait_indexed(name, timeout_s)

    def wait_indexed(self, name: str, timeout_s: float = 3600) -> None:
        """Wait until every row of ``name`` is in an indexed segment (none pending)."""
        index_name, info = self._client.list_indexes(name)[0], {}

        def indexed() -> bool:
            info.update(self._client.describe_index(name, index_name))
            if info.get("state") == "Failed":
                raise IngestError(f"index build on {name!r} failed: {info.get('index_state_fail_reason')}")
            return info.get("pending_index_rows", 0) == 0 and info.get("indexed_rows") == info.get("total_rows")

        _until(indexed, timeout_s, f"index build on {name!r}", lambda: f": {info}")

    def compact(self, name: str, timeout_s: float = 3600) -> None:
        """Merge small segments (Milvus's manual compaction), wait for it, then for the index to cover the
        merged segments: afterwards no background compaction or index build competes with measurements."""
        job, deadline = self._client.compact(name), time.monotonic() + timeout_s
        _until(lambda: str(self._client.get_compaction_state(job)) in ("Completed", "CompactionState.Completed"),
               timeout_s, f"compaction of {name!r}")
        self.wait_indexed(name, max(1.0, deadline - time.monotonic()))

    def indexes(self, name: str) -> dict[str, dict]:
        """Each index of ``name``: its type, metric, field and build parameters."""
        keys = ("index_type", "metric_type", "field_name", "M", "efConstruction", "nlist", "params")
        return {index: {key: info.get(key) for key in keys}
                for index in self._client.list_indexes(name)
                for info in [self._client.describe_index(name, index)]}

    # -- writes ---------------------------------------------------------------------------------------------
    def insert(self, name: str, ids: np.ndarray, vectors: np.ndarray, timeout_s: float | None = 120) -> int:
        """Insert rows (``attr`` filled from the ids when the collection has it); returns rows acknowledged."""
        request = self._insert_request(name, np.asarray(ids, dtype=np.int64), vectors)
        response = self._handler._stub.Insert(request, timeout=timeout_s, metadata=self._metadata)
        utils.check_status(response.status)
        # as pymilvus does, so a Session read in this process waits for this write
        ts_utils.update_collection_ts(name, response.timestamp, self._handler.server_address, "")
        return int(response.insert_cnt)

    def _insert_request(self, name: str, ids: np.ndarray, vectors: np.ndarray):
        if name not in self._templates:
            fields = self.fields(name)
            dim = int(fields[VECTOR_FIELD]["params"]["dim"]) if VECTOR_FIELD in fields else -1
            schema, schema_ts = self._handler._get_schema(name)
            row = {ID_FIELD: 0, VECTOR_FIELD: [0.0] * max(dim, 1), **({ATTR_FIELD: 0} if ATTR_FIELD in fields else {})}
            template = prepare.Prepare.row_insert_param(name, [row], "", schema["fields"], [],
                                                        schema_timestamp=schema_ts, enable_dynamic=False)
            self._templates[name] = (template, dim, ATTR_FIELD in fields)
        template, dim, with_attr = self._templates[name]
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != dim:
            raise IngestError(f"dimension mismatch: collection {name!r} has dim {dim}, data has dim "
                              f"{vectors.shape[1] if vectors.ndim == 2 else vectors.shape}")
        if len(ids) != len(vectors):
            raise IngestError(f"{len(ids)} ids for {len(vectors)} vectors")
        request = type(template)()
        request.CopyFrom(template)
        request.num_rows = len(ids)
        columns = {ID_FIELD: ids, ATTR_FIELD: attr_values(ids) if with_attr else None}
        for field in request.fields_data:
            if field.field_name == VECTOR_FIELD:
                del field.vectors.float_vector.data[:]
                field.vectors.float_vector.data.extend(vectors.ravel().tolist())
            else:
                del field.scalars.long_data.data[:]
                field.scalars.long_data.data.extend(columns[field.field_name].tolist())
        return request

    def prepare_insert(self, name: str, ids: np.ndarray, vectors: np.ndarray) -> bytes:
        """One insert request of these rows, serialized: what :meth:`send_prepared` sends."""
        return self._insert_request(name, np.asarray(ids, dtype=np.int64), vectors).SerializeToString()

    def send_prepared(self, name: str, request: bytes, timeout_s: float | None = 120) -> int:
        """Send a request made by :meth:`prepare_insert` as it is; returns rows acknowledged."""
        if self._send is None:
            self._send = self._handler._final_channel.unary_unary(
                INSERT_METHOD, request_serializer=None, response_deserializer=milvus_pb2.MutationResult.FromString)
        response = self._send(request, timeout=timeout_s, metadata=self._metadata)
        utils.check_status(response.status)
        ts_utils.update_collection_ts(name, response.timestamp, self._handler.server_address, "")
        return int(response.insert_cnt)

    def delete(self, name: str, ids: np.ndarray) -> None:
        self._client.delete(name, filter=f"{ID_FIELD} in {np.asarray(ids).tolist()}")

    # -- reads ------------------------------------------------------------------------------------------------
    def count(self, name: str, consistency: str = "Strong", filter: str = "") -> int:
        """Rows visible to a ``count(*)`` at ``consistency`` (Strong by default)."""
        rows = self._client.query(name, filter=filter, output_fields=["count(*)"], consistency_level=consistency)
        return int(rows[0]["count(*)"])

    def query(self, name: str, filter: str, output_fields: list | None = None, limit: int | None = None,
              consistency: str = "Bounded") -> list[dict]:
        kwargs = {"limit": limit} if limit else {}
        return self._client.query(name, filter=filter, output_fields=output_fields or [ID_FIELD],
                                  consistency_level=consistency, **kwargs)

    def segment_rows(self, name: str) -> list[int]:
        """Rows of each segment of ``name`` loaded on the query node, as the server reports them."""
        return [int(info.num_rows) for info in self._handler.get_query_segment_info(name, timeout=60)]

    def has_id(self, name: str, row_id: int, consistency: str) -> bool:
        return bool(self.query(name, f"{ID_FIELD} == {int(row_id)}", consistency=consistency))

    def search(self, name: str, vectors: np.ndarray, k: int, consistency: str = "Bounded",
               search_params: dict | None = None, filter: str = "") -> list[list[int]]:
        """Top-``k`` ids per query vector (through pymilvus, outside any timed path)."""
        hits = self._client.search(name, data=np.asarray(vectors, np.float32).tolist(), limit=k,
                                   anns_field=VECTOR_FIELD, filter=filter, consistency_level=consistency,
                                   search_params={"params": search_params or {}})
        return [[hit["id"] for hit in q] for q in hits]

    def prepare_search(self, name: str, queries: np.ndarray, k: int, consistency: str, search_params: dict,
                       nq: int = 1, filter: str = "", output_fields: list | None = None) -> "PreparedSearch":
        return PreparedSearch(self, name, queries, k, consistency, search_params, nq, filter, output_fields)

    # -- administration ------------------------------------------------------------------------------------------
    def update_password(self, user: str, old: str, new: str) -> None:
        self._client.update_password(user, old, new)

    def bulk_insert(self, name: str, files: list[str]) -> int:
        """Start a Milvus 2.3 bulk-insert task of column files in the server's storage; its id."""
        return self._handler.do_bulk_insert(name, "", files)

    def bulk_state(self, task_id: int):
        """A bulk-insert task's state (``state_name``, ``row_count``, ``failed_reason``)."""
        return self._handler.get_bulk_insert_state(task_id)


class PreparedSearch:
    """Search requests built by pymilvus once per query (the queries cycle), then sent straight on the
    connection's gRPC stub, so almost all of a request's time is the gRPC call
    (``tests/benchmarks/bench_vs_vectordbbench.py`` prints the share outside it). Strong, Bounded and
    Eventually requests carry pymilvus's constant guarantee timestamps, so building them early changes
    nothing; Session takes this process's last write at build time (none, in client processes: then it
    reads like Eventually, as pymilvus would)."""

    def __init__(self, client: Client, name: str, queries: np.ndarray, k: int, consistency: str,
                 search_params: dict, nq: int = 1, filter: str = "", output_fields: list | None = None):
        handler, captured = client._handler, {}

        def capture(request, timeout=None, context=None, **kwargs):  # stands in for pymilvus's send
            captured.update(request=request, context=context)
            return []

        self.requests = []
        handler._execute_search = capture
        try:
            for i in range(len(queries)):
                rows = [(i * nq + j) % len(queries) for j in range(nq)]
                client._client.search(name, data=queries[rows].tolist(), limit=k, anns_field=VECTOR_FIELD,
                                      filter=filter, output_fields=output_fields or None,
                                      search_params={"params": search_params}, consistency_level=consistency)
                self.requests.append(captured["request"])
        finally:
            del handler._execute_search
        self.stub = handler._stub.Search
        self.metadata = call_context._api_level_md(captured["context"])

    def __call__(self, i: int):
        response = self.stub(self.requests[i % len(self.requests)], metadata=self.metadata)
        utils.check_status(response.status)
        return response

    @staticmethod
    def first_hits(response) -> tuple[list, list]:
        """Ids and scores of the first query's hits."""
        results = response.results
        k = results.topks[0] if len(results.topks) else 0
        return list(results.ids.int_id.data[:k]), list(results.scores[:k])
