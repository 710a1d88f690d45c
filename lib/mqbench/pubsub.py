"""The seed's pub/sub op at the broker level (NATS JetStream, a RocksDB model of RocksMQ) and through Milvus.

One op (Milvus ``pkg/mq/msgstream/stream_bench_test.go``): create a fresh topic; one producer
sends N messages of S random bytes, each acknowledged; one consumer subscribed from the earliest
position receives and acks all N; the op ends when the last message is received. Received
messages are counted, never assumed: a short count is a failed op.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import ingest
from .errors import PubSubError

UNITS = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}
SEED_SHAPES = ["5MB*100", "1MB*500", "64KB*10000", "1KB*50000"]
_SHAPE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)\s*[*xX×]\s*(\d+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Shape:
    label: str      # as the seed writes it, e.g. 5MB*100
    size: int       # bytes per message
    count: int      # messages per op

    @property
    def bytes_per_op(self) -> int:
        return self.size * self.count


def parse_shape(text: str) -> Shape:
    """``5MB*100`` or ``5MBx100`` (KB/MB are 1024-based)."""
    match = _SHAPE.match(str(text))
    if not match:
        raise ValueError(f"shape {text!r} does not parse: write SIZE*COUNT like 5MB*100 or 64KBx10000")
    number, unit, count = float(match.group(1)), match.group(2).upper(), int(match.group(3))
    size = int(number * UNITS[unit])
    if size < 1 or count < 1:
        raise ValueError(f"shape {text!r} needs a positive size and count")
    label = f"{match.group(1)}{unit}*{count}"
    return Shape(label, size, count)


@dataclass
class Op:
    seconds: float
    sent: int
    received: int
    publish_errors: int
    error: str = ""


# -- NATS JetStream --------------------------------------------------------------------------------------
IN_FLIGHT_BYTES = 32 * 2**20  # under the server's 64 MB per-connection pending limit


async def _nats_op(url: str, topic: str, shape: Shape, variant: str, window: int, timeout_s: float) -> Op:
    import nats
    from nats.js.api import ConsumerConfig, DeliverPolicy, RetentionPolicy, StorageType, StreamConfig

    lost = asyncio.Event()
    reasons: list[str] = []

    async def on_error(exc):
        reasons.append(f"{type(exc).__name__}: {exc}")

    async def on_disconnect():
        reasons.append("disconnected by the server")
        lost.set()

    connect = dict(max_reconnect_attempts=0, connect_timeout=10, error_cb=on_error, disconnected_cb=on_disconnect)
    producer, consumer = await nats.connect(url, **connect), await nats.connect(url, **connect)
    try:
        if shape.size > producer.max_payload:
            raise PubSubError(f"message of {shape.size} B exceeds the server's max_payload {producer.max_payload} B")
        # In flight at once: at most `window` messages and IN_FLIGHT_BYTES, both ways (publishes
        # awaiting acks; deliveries awaiting the consumer's acks), so neither side's buffers overflow.
        in_flight = max(1, min(window, IN_FLIGHT_BYTES // shape.size))
        js = producer.jetstream(publish_async_max_pending=in_flight, timeout=timeout_s)
        js_sub = consumer.jetstream(timeout=timeout_s)
        payload = os.urandom(shape.size)
        done, received = asyncio.Event(), 0

        async def on_message(msg):
            nonlocal received
            received += 1
            await msg.ack()
            if received == shape.count:
                done.set()

        t0 = time.perf_counter()
        # As Milvus's natsmq: one stream per topic, file storage, limits retention.
        await js.add_stream(StreamConfig(name=topic, subjects=[topic], storage=StorageType.FILE,
                                         retention=RetentionPolicy.LIMITS, max_age=3 * 24 * 3600))
        sub = await js_sub.subscribe(topic, cb=on_message, manual_ack=True, deliver_policy=DeliverPolicy.ALL,
                                     config=ConsumerConfig(max_ack_pending=max(1, IN_FLIGHT_BYTES // shape.size)),
                                     pending_msgs_limit=-1, pending_bytes_limit=-1)
        errors = 0
        if variant == "strict":  # the seed's form: every publish waits for its ack
            for _ in range(shape.count):
                if lost.is_set():
                    errors += 1
                    continue
                try:
                    await js.publish(topic, payload)
                except Exception:  # noqa: BLE001 - counted
                    errors += 1
        else:  # a bounded window of in-flight publishes, every ack checked
            futures = []
            for _ in range(shape.count):
                if lost.is_set():
                    break
                futures.append(await js.publish_async(topic, payload, wait_stall=timeout_s))
            try:
                acks = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), timeout_s)
                errors = shape.count - len(futures) + sum(isinstance(a, Exception) for a in acks)
            except asyncio.TimeoutError:
                errors = shape.count - sum(f.done() and not f.exception() for f in futures)
        waiter = asyncio.ensure_future(done.wait())
        await asyncio.wait([waiter, asyncio.ensure_future(lost.wait())], timeout=timeout_s,
                           return_when=asyncio.FIRST_COMPLETED)
        elapsed = time.perf_counter() - t0
        if not lost.is_set():
            await sub.unsubscribe()
        error = "" if received == shape.count and not errors else \
            f"received {received} of {shape.count} messages, {errors} publish errors" + \
            (f" ({'; '.join(dict.fromkeys(reasons))})" if reasons else "")
        return Op(elapsed, shape.count - errors, received, errors, error)
    finally:
        for nc in (producer, consumer):
            if not nc.is_closed:
                await nc.close()


def nats_op(url: str, topic: str, shape: Shape, variant: str = "async", window: int = 256,
            timeout_s: float = 300) -> Op:
    if variant not in ("async", "strict"):
        raise ValueError(f"unknown NATS variant {variant!r}: choose async or strict")
    coro = _nats_op(url, topic, shape, variant, window, timeout_s)
    # A notebook kernel already runs an event loop in this thread: use a fresh loop in a worker thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


# -- RocksMQ's storage path on RocksDB (a model, not Milvus's Go code) --------------------------------------
class RocksMQModel:
    """RocksMQ's layout on RocksDB via ``rocksdict``: ``<topic>/<msgID>`` → payload in a data store,
    written in write batches; page and ack metadata in a second store ``<path>_meta_kv``. A
    consumer reads in ID order from the earliest position and records its acked position."""

    PAGE_SIZE = 64 * 1024 * 1024  # rocksmq.rocksmqPageSize

    def __init__(self, path: str | Path):
        from rocksdict import Options, Rdict

        self.path = Path(path)
        opts = Options(raw_mode=True)
        opts.create_if_missing(True)
        self.data = Rdict(str(self.path), opts)
        self.meta = Rdict(str(self.path) + "_meta_kv", opts)
        self.next_id = 1
        self._written = threading.Condition()

    @staticmethod
    def key(topic: str, msg_id: int) -> bytes:
        return topic.encode() + b"/" + struct.pack(">Q", msg_id)  # big-endian: byte order = id order

    def produce(self, topic: str, payloads: list[bytes], page: dict) -> list[int]:
        from rocksdict import WriteBatch

        ids = list(range(self.next_id, self.next_id + len(payloads)))
        self.next_id += len(payloads)
        batch = WriteBatch(raw_mode=True)
        for msg_id, payload in zip(ids, payloads):
            batch.put(self.key(topic, msg_id), payload)
        self.data.write(batch)
        page["size"] += sum(map(len, payloads))
        if page["size"] >= self.PAGE_SIZE:  # close a page: its end id and size go to the meta store
            self.meta[f"page_message_size/{topic}/{ids[-1]}".encode()] = str(page["size"]).encode()
            page["size"] = 0
        with self._written:
            self._written.notify_all()
        return ids

    def consume(self, topic: str, group: str, count: int, timeout_s: float) -> int:
        """Read ``count`` messages from the earliest position, acking each; returns how many arrived."""
        prefix = topic.encode() + b"/"
        received, next_key = 0, self.key(topic, 0)
        deadline = time.monotonic() + timeout_s
        while received < count and time.monotonic() < deadline:
            it = self.data.iter()
            it.seek(next_key)
            while received < count and it.valid() and it.key().startswith(prefix):
                key = it.key()
                it.value()  # the payload is read, as a consumer would
                received += 1
                self.meta[f"consumer_current_id/{topic}/{group}".encode()] = key[len(prefix):]
                next_key = self.key(topic, struct.unpack(">Q", key[len(prefix):])[0] + 1)
                it.next()
            del it
            if received < count:
                with self._written:
                    self._written.wait(timeout=0.05)
        return received

    def close(self) -> None:
        self.data.close()
        self.meta.close()


def rocksmq_op(store: RocksMQModel, topic: str, shape: Shape, timeout_s: float = 300) -> Op:
    """Producer (one message per write batch, as each send waits for its ack) and consumer threads."""
    payload = os.urandom(shape.size)
    got = {}
    consumer = threading.Thread(target=lambda: got.setdefault("n", store.consume(topic, "bench", shape.count,
                                                                                   timeout_s)))
    t0 = time.perf_counter()
    store.meta[f"topic_id_begin/{topic}".encode()] = str(store.next_id).encode()  # create the topic
    consumer.start()
    page, errors = {"size": 0}, 0
    for _ in range(shape.count):
        try:
            store.produce(topic, [payload], page)
        except Exception:  # noqa: BLE001 - counted
            errors += 1
    consumer.join()
    elapsed = time.perf_counter() - t0
    received = got.get("n", 0)
    error = "" if received == shape.count and not errors else \
        f"received {received} of {shape.count} messages, {errors} produce errors"
    return Op(elapsed, shape.count - errors, received, errors, error)


# -- through Milvus ------------------------------------------------------------------------------------------
ROW_DIM = 128
ROW_BYTES = 8 + 4 * ROW_DIM  # an INT64 id and a 128-d float vector


def milvus_op(client, collection: str, shape: Shape, first_id: int, timeout_s: float = 600) -> Op:
    """N insert requests of about S bytes each (rows of id + 128-d vector), then wait until all rows
    are visible to a Strong count. The collection must be fresh (empty)."""
    rows = rows_per_request(shape)
    vectors = np.random.default_rng(first_id).standard_normal((rows, ROW_DIM), dtype=np.float32).tolist()
    t0 = time.perf_counter()
    errors, next_id = 0, first_id
    for _ in range(shape.count):
        batch = [{"id": next_id + i, "vector": v} for i, v in enumerate(vectors)]
        try:
            client.insert(collection, batch, timeout=timeout_s)
        except Exception:  # noqa: BLE001 - counted
            errors += 1
        next_id += rows
    want, seen = (shape.count - errors) * rows, -1
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen = client.count(collection)
        if seen >= want:
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - t0
    received = seen // rows
    error = "" if seen == shape.count * rows else \
        f"{seen} of {shape.count * rows} rows visible, {errors} insert errors"
    return Op(elapsed, shape.count - errors, received, errors, error)


def rows_per_request(shape: Shape) -> int:
    return max(1, round(shape.size / ROW_BYTES))


# -- levels: each shape on a fresh broker and an empty store, measured by the session -----------------------
def summarize(ops: list[Op], shape: Shape) -> dict:
    """s/op (median, spread) and throughput over the ops of one shape; failed ops counted, not averaged.
    (The number of ops is the notebook parameter `ops`, already a column.)"""
    good = [o.seconds for o in ops if not o.error]
    median = float(np.median(good)) if good else float("nan")
    return {"shape": shape.label, "message_bytes": shape.size, "messages_per_op": shape.count,
            "failed_ops": sum(bool(o.error) for o in ops),
            "s_per_op": median, "s_per_op_min": min(good, default=float("nan")),
            "s_per_op_max": max(good, default=float("nan")),
            "messages_per_s": shape.count / median if good else float("nan"),
            "mb_per_s": shape.bytes_per_op / 1e6 / median if good else float("nan"),
            "error": next((o.error for o in ops if o.error), "")}


def _ops_frame(ops: list[Op]):
    import pandas as pd

    return pd.DataFrame([{"op_index": i, "seconds": o.seconds, "sent": o.sent, "received": o.received,
                          "publish_errors": o.publish_errors, "error": o.error} for i, o in enumerate(ops)])


def _record(session, tracker, ops: list[Op], shape: Shape, name: str) -> None:
    tracker.extra.update(summarize(ops, shape), raw_file=session.write_raw(name, _ops_frame(ops)))


def check_disk_for(session, shapes: list[Shape], ops: int, factor: float = 2.0) -> None:
    session.check_disk(factor * max(s.bytes_per_op for s in shapes) * ops, "the pub/sub ops of the largest shape")


def nats_broker_level(session, shapes: list[Shape], ops: int, servers: list[str], variants: list[str],
                      window: int = 256, timeout_s: float = 600) -> None:
    """JetStream through nats-py against a standalone nats-server and the one inside a natsmq Milvus."""
    from .nats_server import NatsServer, version
    from .server import EmbeddedMilvus

    for where in servers:
        if where not in ("standalone", "embedded"):
            raise ValueError(f"unknown NATS server {where!r}: choose standalone or embedded")
    for shape in shapes:
        for where in servers:
            for variant in variants:
                folder = session.run_dir / "servers" / session.tag / f"{where}-{variant}-{shape.label.replace('*', 'x')}"
                if where == "standalone":
                    broker = NatsServer(folder)
                    label, url_of, store_of = f"nats-server {version().split()[-1]}", lambda b: b.url, \
                        lambda b: b.store_dir
                else:
                    broker = EmbeddedMilvus("natsmq", folder)
                    label, url_of, store_of = "nats in milvus 2.3.5", \
                        lambda b: f"nats://127.0.0.1:{b.ports['natsmq']}", lambda b: b.mq_store_dir
                with broker:
                    with session.track("pubsub", "broker", broker_pid=broker.pid, store_dir=store_of(broker),
                                       broker=label, variant=variant) as t:
                        results = [nats_op(url_of(broker), f"bench_{i}", shape, variant, window, timeout_s)
                                   for i in range(ops)]
                        _record(session, t, results, shape, f"pubsub-broker-{where}-{variant}-{shape.label}")
                _drop_data(folder)


def rocksmq_broker_level(session, shapes: list[Shape], ops: int, timeout_s: float = 600) -> None:
    """The RocksDB model of RocksMQ, in this process (so broker and client CPU are one figure)."""
    for shape in shapes:
        folder = session.run_dir / "servers" / session.tag / f"rocksdb-{shape.label.replace('*', 'x')}"
        folder.mkdir(parents=True, exist_ok=True)
        store = RocksMQModel(folder / "rdb_data")
        try:
            with session.track("pubsub", "broker", broker_pid=os.getpid(), store_dir=folder,
                               broker="rocksdb model (rocksdict)", variant="strict") as t:
                results = [rocksmq_op(store, f"bench_{i}", shape, timeout_s) for i in range(ops)]
                _record(session, t, results, shape, f"pubsub-broker-rocksdb-{shape.label}")
        finally:
            store.close()
        _drop_data(folder)


def milvus_level(session, mq: str, shapes: list[Shape], ops: int, timeout_s: float = 600) -> None:
    """Each shape as insert requests on a fresh Milvus with ``mq``; each op on a fresh collection."""
    for shape in shapes:
        conn = session.start_server(mq)
        client = conn.client(timeout=timeout_s)
        try:
            results = []
            with session.track("pubsub", "milvus", broker=f"milvus 2.3.5 ({mq})", variant="insert",
                               rows_per_request=rows_per_request(shape)) as t:
                for i in range(ops):
                    ingest.create_collection(client, f"pubsub_{i}", ROW_DIM, "L2")
                    ingest.build_index(client, f"pubsub_{i}", "L2", "FLAT", {})  # Milvus 2.3 queries need a
                    client.load_collection(f"pubsub_{i}")  # loaded collection; growing rows are searched as is
                    results.append(milvus_op(client, f"pubsub_{i}", shape, first_id=0, timeout_s=timeout_s))
                    client.drop_collection(f"pubsub_{i}")
                _record(session, t, results, shape, f"pubsub-milvus-{shape.label}")
        finally:
            client.close()
            session.stop_server()


def _drop_data(folder: Path) -> None:
    """Remove a finished broker's stored messages (they were measured); keep its config and logs."""
    import shutil

    for sub in ("jetstream", "data", "rdb_data", "rdb_data_meta_kv"):
        shutil.rmtree(folder / sub, ignore_errors=True)
