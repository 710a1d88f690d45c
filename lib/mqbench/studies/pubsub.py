"""``pubsub.ipynb``: the seed's Table 1, every broker of a shape side by side, ops interleaved in blocks.

For each shape, every broker of every variant starts on an empty store — for ``natsmq`` the standalone
``nats-server`` and the NATS inside a natsmq Milvus, each publishing ``strict`` (every publish waits for
its ack, as the seed) and/or ``async`` (a bounded window); for ``rocksmq`` the RocksDB model of RocksMQ
in this process — then ``ops`` blocks run one op on each broker in a balanced seeded order, so a block
is one paired observation. Each op is its own summary row: seconds, broker CPU and peak memory over the
op, and the growth of the store. Through Milvus, the variants' servers run side by side the same way.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass

from mqbench.core import checks, mqs, schema, studies
from mqbench.core.errors import PubSubError
from mqbench.core.mqs import MQ
from mqbench.core.room import check_disk
from mqbench.core.schema import Notebook, Phase
from mqbench.data import ingest
from mqbench.measure.mq_ops import (
    Payloads,
    RocksMQModel,
    Shape,
    milvus_op,
    nats_op,
    parse_shape,
    rocks_mq_label,
    rocksmq_op,
    rows_per_request,
)
from mqbench.milvus.nats_server import NatsServer, version
from mqbench.milvus.server import EmbeddedMilvus
from mqbench.stats import design
from mqbench.stats.design import Variant

LEVELS = (Phase.BROKER, Phase.MILVUS)

NOTEBOOK = Notebook.PUBSUB
STUDY = studies.declare(studies.Study(NOTEBOOK, compare=("op", "phase", "shape")))
# what the notebook calls after check(), in order
STEPS = ("brokers_for", "check_disk_for", "broker_level", "milvus_level")
MODES = ("strict", "async")


def check(p: dict) -> list[Shape]:
    design.parse_variants(p["variants"], local_only=NOTEBOOK)
    shapes = [parse_shape(s) for s in p["shapes"]]
    checks.subset("levels", p["levels"], LEVELS)
    checks.subset("nats_servers", p["nats_servers"], tuple(NATS_BROKERS))
    checks.subset("publish_modes", p["publish_modes"], MODES)
    checks.integer("ops", p["ops"])
    checks.integer("window", p["window"])
    checks.positive_number("op_timeout_s", p["op_timeout_s"])
    return shapes


def check_disk_for(run_dir, shapes: list[Shape], ops: int, brokers: int, factor: float = 1.5) -> None:
    """NATS keeps every op's messages (limits retention): a shape's store grows by its bytes per op and op."""
    check_disk(run_dir, factor * brokers * max(s.bytes_per_op for s in shapes) * ops,
               "the pub/sub ops of the largest shape")


@dataclass
class Broker:
    """One broker of a shape, the way ann-benchmarks has ``BaseANN``: its variant, publish mode and folder, and
    what every broker does — :meth:`start`, :attr:`pid`, :attr:`store`, :attr:`name`, :meth:`op`, :meth:`stop`.
    A new NATS broker is one subclass and one entry of :data:`NATS_BROKERS` (the ``nats_servers`` choices)."""
    variant: Variant
    mode: str          # strict | async
    folder: object
    server: object = None
    kind = ""

    @property
    def label(self) -> str:
        return f"{self.variant.label} · {self.kind} · {self.mode}"

    @property
    def pid(self) -> int:
        return self.server.pid

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        for sub in ("jetstream", "data", "rdb_data", "rdb_data_meta_kv"):  # measured: drop the stored messages
            shutil.rmtree(self.folder / sub, ignore_errors=True)


class _Nats(Broker):
    url = ""

    def op(self, topic: str, shape: Shape, payloads: Payloads, p: dict):
        return nats_op(self.url, topic, shape, payloads, self.mode, p["window"], p["op_timeout_s"])


class StandaloneNats(_Nats):
    """The standalone ``nats-server`` (JetStream), driven by nats-py."""
    kind = "standalone"

    def start(self) -> None:
        self.server = NatsServer(self.folder).start()
        self.url = self.server.url

    @property
    def store(self):
        return self.server.store_dir

    @property
    def name(self) -> str:
        return f"nats-server {version().split()[-1]}"


class EmbeddedNats(_Nats):
    """The NATS inside a natsmq Milvus, driven by nats-py on its port."""
    kind = "embedded"

    def start(self) -> None:
        self.server = EmbeddedMilvus(MQ.NATSMQ, self.folder, self.variant.overrides,
                                     version=self.variant.version).start()
        self.url = f"nats://127.0.0.1:{self.server.ports[MQ.NATSMQ.value]}"

    @property
    def store(self):
        return self.server.mq_store_dirs

    @property
    def name(self) -> str:
        return f"nats in milvus {self.server.version}"


class RocksDBModel(Broker):
    """RocksMQ's write and read path modelled on RocksDB in this process (rocksdict)."""
    kind = "rocksdb-model"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.server = RocksMQModel(self.folder / "rdb_data")

    @property
    def pid(self) -> int:
        return os.getpid()

    @property
    def store(self):
        return [self.folder / "rdb_data", self.folder / "rdb_data_meta_kv"]

    @property
    def name(self) -> str:
        return rocks_mq_label()

    def op(self, topic: str, shape: Shape, payloads: Payloads, p: dict):
        return rocksmq_op(self.server, topic, shape, payloads, p["op_timeout_s"])

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        super().stop()


NATS_BROKERS = {b.kind: b for b in (StandaloneNats, EmbeddedNats)}  # the ``nats_servers`` parameter's choices


def brokers_for(session, shape: Shape, p: dict) -> list[Broker]:
    out = []
    for v in design.parse_variants(p["variants"]):
        base = session.run_dir / "servers" / session.tag / shape.label.replace("*", "x")
        if mqs.of(v.mq) == MQ.ROCKSMQ:
            out.append(RocksDBModel(v, "strict", base / f"{v.label}-rocksdb"))
        else:
            out += [NATS_BROKERS[kind](v, mode, base / f"{v.label}-{kind}-{mode}")
                    for kind in p["nats_servers"] for mode in p["publish_modes"]]
    for i, b in enumerate(out):  # every broker is a variant of the comparison; the first is the baseline
        b.variant = Variant(b.label, b.variant.mq, b.variant.overrides, i, version=b.variant.version)
    return out


def _record(t, op, shape: Shape) -> None:
    """The op's columns; an op that did not deliver every message is a failed row with its error."""
    t.extra.update(seconds=op.seconds, sent=op.sent, received=op.received, publish_errors=op.publish_errors)
    if op.error:
        raise PubSubError(op.error)
    t.extra.update(s_per_op=op.seconds, mib_per_s=shape.bytes_per_op / 2**20 / op.seconds,
                   messages_per_s=shape.count / op.seconds)


@contextlib.contextmanager
def _keep_going():
    """A failed op is recorded (by ``track``) and the next op runs."""
    try:
        yield
    except PubSubError:
        pass


def broker_level(session, shapes: list[Shape], p: dict) -> None:
    """Every shape on fresh brokers side by side; ``ops`` blocks of one op per broker."""
    for shape in shapes:
        brokers = brokers_for(session, shape, p)
        payloads = Payloads(shape.size, p["seed"])
        try:
            for b in brokers:
                b.start()
            for block, order in enumerate(design.block_orders(p["ops"], len(brokers), p["seed"])):
                for position, i in enumerate(order):
                    b = brokers[i]
                    with _keep_going(), session.track(schema.Op.PUBSUB, schema.Phase.BROKER, b.variant, broker_pid=b.pid,
                                       store_dir=b.store, shape=shape.label, broker=b.name, publish=b.mode,
                                       message_bytes=shape.size, messages_per_op=shape.count, block=block,
                                       block_order=position) as t:
                        _record(t, b.op(f"bench_{block}", shape, payloads, p), shape)
        finally:
            for b in brokers:
                b.stop()


def milvus_level(session, shapes: list[Shape], p: dict) -> None:
    """Each shape as insert requests on the variants' servers, over pairs of server starts: for each of ``ops``
    units both servers are (re)started in the unit's balanced order and each runs one op per shape (the shapes'
    order rotating from unit to unit), each op on a fresh collection, then both are killed with their sessions
    released. An op ends on a Strong count, so it rides the time tick, whose phase is fixed per start: the start
    pair, not the op on one pair of servers, is the unit of every shape."""
    variants = session.start_variants(p["variants"], folder="milvus")
    for start, order in enumerate(design.block_orders(p["ops"], len(variants), p["seed"])):
        ordered = [variants[i] for i in order]
        if start:
            session.close_variants(kill=True, release_sessions=True, forget=False)
            session.start_pair(ordered, start=start)
        turn = start % len(shapes)
        for shape in shapes[turn:] + shapes[:turn]:
            for position, v in enumerate(ordered):
                name = f"pubsub_{start}"
                with v.conn.client(timeout=p["op_timeout_s"]) as client:
                    ingest.flat_collection(client, name, 128)
                    with _keep_going(), session.track(schema.Op.PUBSUB, schema.Phase.MILVUS, v, shape=shape.label,
                                       broker=f"milvus {v.server.version} ({v.mq})", publish="insert", message_bytes=shape.size,
                                       messages_per_op=shape.count, rows_per_request=rows_per_request(shape),
                                       block=start, block_order=position, start=start, unit=schema.Unit.START) as t:
                        _record(t, milvus_op(client, name, shape, p["op_timeout_s"]), shape)
                    client.drop_collection(name)
    session.close_variants()
