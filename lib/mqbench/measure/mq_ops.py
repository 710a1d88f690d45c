"""The seed's pub/sub op at the broker level (NATS JetStream, a RocksDB model of RocksMQ) and through Milvus.

One op (Milvus ``pkg/mq/msgstream/stream_bench_test.go``): create a fresh topic; one producer sends N
messages of S random bytes, each acknowledged; one consumer subscribed from the earliest position
receives and acks all N; the op ends when the last message is received. Distinct messages are
counted, never assumed: a short count or a redelivery that never completes is a failed op.

Payloads are slices of a random pool, distinct per message, so RocksDB's block compression sees what
it would see in Milvus (incompressible data), and generating them stays out of the timed loop.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import re
import threading
import time
from dataclasses import dataclass

import numpy as np
import psutil

from mqbench.core.errors import ParameterError, PubSubError

UNITS = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}
SEED_SHAPES = ["5MB*100", "1MB*500", "64KB*10000", "1KB*50000"]
_SHAPE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)\s*[*xX×]\s*(\d+)\s*$", re.IGNORECASE)
POOL_BYTES = 64 * 2**20


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
        raise ParameterError(f"shape {text!r} does not parse: write SIZE*COUNT like 5MB*100 or 64KBx10000")
    number, unit, count = float(match.group(1)), match.group(2).upper(), int(match.group(3))
    size = int(number * UNITS[unit])
    if size < 1 or count < 1:
        raise ParameterError(f"shape {text!r} needs a positive size and count")
    return Shape(f"{match.group(1)}{unit}*{count}", size, count)


class Payloads:
    """Distinct random payloads of ``size`` bytes: slices of one random pool at shifting offsets."""

    def __init__(self, size: int, seed: int = 0):
        self.size = size
        self.pool = np.random.default_rng(seed).bytes(max(POOL_BYTES, 2 * size))

    def __getitem__(self, i: int) -> bytes:
        start = (i * (self.size + 4099)) % (len(self.pool) - self.size)
        return self.pool[start:start + self.size]


@dataclass
class Op:
    seconds: float
    sent: int
    received: int
    publish_errors: int
    error: str = ""


def _op(seconds: float, shape: Shape, sent: int, received: int, errors: int, detail: str = "") -> Op:
    error = "" if received == shape.count and not errors else \
        f"received {received} of {shape.count} messages, {errors} publish errors" + (f" ({detail})" if detail else "")
    return Op(seconds, sent, received, errors, error)


# -- NATS JetStream --------------------------------------------------------------------------------------
IN_FLIGHT_BYTES = 32 * 2**20  # under the server's 64 MB per-connection pending limit


async def _publish(js, topic: str, shape: Shape, payloads: Payloads, mode: str, lost, timeout_s: float) -> int:
    """Send every message; returns the publish errors (unacknowledged messages count as errors)."""
    if mode == "strict":  # the seed's form: every publish waits for its ack
        errors = 0
        for i in range(shape.count):
            try:
                if lost.is_set():
                    raise PubSubError("connection lost")
                await js.publish(topic, payloads[i])
            except Exception:  # noqa: BLE001 - counted
                errors += 1
        return errors
    futures = []  # a bounded window of in-flight publishes, every ack checked
    for i in range(shape.count):
        if lost.is_set():
            break
        futures.append(await js.publish_async(topic, payloads[i], wait_stall=timeout_s))
    try:
        await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), timeout_s)
    except asyncio.TimeoutError:
        pass
    return shape.count - len(futures) + unacked(futures)


def unacked(futures) -> int:
    """Publishes without a successful ack: pending, cancelled or failed (a cancelled future is asked nothing
    that would raise)."""
    return sum(not (f.done() and not f.cancelled() and f.exception() is None) for f in futures)


async def _nats_op(url: str, topic: str, shape: Shape, payloads: Payloads, mode: str, window: int,
                   timeout_s: float) -> Op:
    import nats
    from nats.js.api import (
        ConsumerConfig,
        DeliverPolicy,
        RetentionPolicy,
        StorageType,
        StreamConfig,
    )

    lost, reasons = asyncio.Event(), []

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
        # at most `window` messages and IN_FLIGHT_BYTES in flight both ways, so no buffer overflows
        in_flight = max(1, min(window, IN_FLIGHT_BYTES // shape.size))
        js = producer.jetstream(publish_async_max_pending=in_flight, timeout=timeout_s)
        seen, done = set(), asyncio.Event()

        async def on_message(msg):
            seen.add(msg.metadata.sequence.stream)  # distinct messages: a redelivery does not count twice
            await msg.ack()
            if len(seen) == shape.count:
                done.set()

        t0 = time.perf_counter()
        # As Milvus's natsmq: one stream per topic, file storage, limits retention.
        await js.add_stream(StreamConfig(name=topic, subjects=[topic], storage=StorageType.FILE,
                                         retention=RetentionPolicy.LIMITS, max_age=3 * 24 * 3600))
        sub = await consumer.jetstream(timeout=timeout_s).subscribe(
            topic, cb=on_message, manual_ack=True, deliver_policy=DeliverPolicy.ALL,
            config=ConsumerConfig(max_ack_pending=max(1, IN_FLIGHT_BYTES // shape.size)),
            pending_msgs_limit=-1, pending_bytes_limit=-1)
        errors = await _publish(js, topic, shape, payloads, mode, lost, timeout_s)
        await asyncio.wait([asyncio.ensure_future(done.wait()), asyncio.ensure_future(lost.wait())],
                           timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        elapsed = time.perf_counter() - t0
        if not lost.is_set():
            await sub.unsubscribe()
        return _op(elapsed, shape, shape.count - errors, len(seen), errors, "; ".join(dict.fromkeys(reasons)))
    finally:
        for nc in (producer, consumer):
            if not nc.is_closed:
                await nc.close()


def nats_op(url: str, topic: str, shape: Shape, payloads: Payloads, mode: str = "strict", window: int = 256,
            timeout_s: float = 300) -> Op:
    if mode not in ("async", "strict"):
        raise ParameterError(f"unknown NATS publish mode {mode!r}: choose async or strict")
    coro = _nats_op(url, topic, shape, payloads, mode, window, timeout_s)
    # A notebook kernel already runs an event loop in this thread: use a fresh loop in a worker thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


# -- RocksMQ's storage path on RocksDB (a model, not Milvus's Go code) --------------------------------------
def _rocksmq_options():
    """The options Milvus 2.3.5's RocksMQ opens both of its stores with (``pkg/mq/mqimpl/rocksmq/server``, and
    ``rocksmq.*`` in milvus.yaml): 5 levels compressed [none, none, zstd, zstd, zstd], 64 KiB blocks,
    an LRU block cache of ``lrucacheratio`` (6%) of RAM within [512 MiB, 4 GiB], target file size multiplier 2,
    one background flush."""
    from rocksdict import BlockBasedOptions, Cache, DBCompressionType, Options

    opts = Options(raw_mode=True)
    opts.create_if_missing(True)
    none, zstd = DBCompressionType.none(), DBCompressionType.zstd()
    opts.set_num_levels(5)
    opts.set_compression_per_level([none, none, zstd, zstd, zstd])
    table = BlockBasedOptions()
    table.set_block_size(64 * 1024)
    table.set_block_cache(Cache(int(min(max(0.06 * psutil.virtual_memory().total, 2**29), 4 * 2**30))))
    opts.set_block_based_table_factory(table)
    opts.set_target_file_size_multiplier(2)
    opts.set_max_background_jobs(2)
    return opts


def rocks_mq_label() -> str:
    from importlib.metadata import version

    return f"rocksdb model (rocksdict {version('rocksdict')})"


class RocksMQModel:
    """RocksMQ 2.3's storage path on RocksDB via ``rocksdict``, in this process.

    As Milvus does: every produce call writes its messages in one write batch to the data store under
    ``<topic>/<msgID>`` (decimal ids of equal width, so byte order is id order), then reads and rewrites
    the topic's current page size in the meta store ``<path>_meta_kv`` (and records page size and time
    when a 64 MiB page fills); the consumer reads in id order from the earliest position, batches of
    ``CONSUME_BATCH``, keeps its position in memory and writes an acked timestamp to the meta store when
    it passes the end of a page. Where it differs: one process and one thread per side instead of Go's
    goroutines, no gRPC or msgstream layer, and the consumer batch size is ours.
    """

    PAGE_SIZE = 64 * 1024 * 1024  # rocksmq.rocksmqPageSize
    CONSUME_BATCH = 100
    FIRST_ID = 10**17  # ids of equal width (Milvus composes them from a timestamp)

    def __init__(self, path):
        from rocksdict import Rdict

        self.path = str(path)
        self.data = Rdict(self.path, _rocksmq_options())
        self.meta = Rdict(self.path + "_meta_kv", _rocksmq_options())
        self.next_id = self.FIRST_ID
        self._written = threading.Condition()

    @staticmethod
    def key(topic: str, msg_id: int) -> bytes:
        return f"{topic}/{msg_id}".encode()

    def create_topic(self, topic: str) -> None:
        self.meta[f"message_size/{topic}".encode()] = b"0"
        self.meta[f"topic_id/{topic}".encode()] = str(int(time.time())).encode()

    def produce(self, topic: str, payloads: list[bytes]) -> list[int]:
        from rocksdict import WriteBatch

        ids = list(range(self.next_id, self.next_id + len(payloads)))
        self.next_id += len(payloads)
        batch = WriteBatch(raw_mode=True)
        for msg_id, payload in zip(ids, payloads):
            batch.put(self.key(topic, msg_id), payload)
        self.data.write(batch)
        with self._written:
            self._written.notify_all()
        size_key = f"message_size/{topic}".encode()
        size = int(self.meta[size_key])
        for msg_id, payload in zip(ids, payloads):
            if size + len(payload) > self.PAGE_SIZE:  # the page is full: its end id, size and time
                self.meta[f"page_message_size/{topic}/{msg_id}".encode()] = str(size + len(payload)).encode()
                self.meta[f"page_ts/{topic}/{msg_id}".encode()] = str(int(time.time())).encode()
                size = 0
            else:
                size += len(payload)
        self.meta[size_key] = str(size).encode()
        return ids

    def consume(self, topic: str, count: int, timeout_s: float) -> int:
        """Read ``count`` distinct messages from the earliest position; returns how many arrived."""
        prefix = f"{topic}/".encode()
        position, received = self.key(topic, 0), 0
        pages = sorted(int(k.rsplit(b"/", 1)[1]) for k in self.meta.keys(from_key=f"page_message_size/{topic}/".encode())
                       if k.startswith(f"page_message_size/{topic}/".encode()))
        deadline = time.monotonic() + timeout_s
        while received < count and time.monotonic() < deadline:
            it = self.data.iter()
            it.seek(position)
            got = 0
            while got < self.CONSUME_BATCH and received < count and it.valid() and it.key().startswith(prefix):
                it.value()
                last = int(it.key()[len(prefix):])
                got += 1
                received += 1
                it.next()
            del it
            if got:
                position = self.key(topic, last + 1)
                passed = [p for p in pages if p <= last]
                for page in passed:
                    self.meta[f"acked_ts/{topic}/{page}".encode()] = str(int(time.time())).encode()
                pages = pages[len(passed):]
            elif received < count:
                with self._written:
                    self._written.wait(timeout=0.05)
        return received

    def close(self) -> None:
        self.data.close()
        self.meta.close()


def rocksmq_op(store: RocksMQModel, topic: str, shape: Shape, payloads: Payloads, timeout_s: float = 300) -> Op:
    """Producer (one produce call per message, as each send waits for its ack) and consumer threads."""
    got = {}
    consumer = threading.Thread(target=lambda: got.setdefault("n", store.consume(topic, shape.count, timeout_s)))
    t0 = time.perf_counter()
    store.create_topic(topic)
    consumer.start()
    errors = 0
    for i in range(shape.count):
        try:
            store.produce(topic, [payloads[i]])
        except Exception:  # noqa: BLE001 - counted
            errors += 1
    consumer.join()
    return _op(time.perf_counter() - t0, shape, shape.count - errors, got.get("n", 0), errors)


# -- through Milvus ------------------------------------------------------------------------------------------
ROW_DIM = 128
ROW_BYTES = 8 + 4 * ROW_DIM  # an INT64 id and a 128-d float vector


def rows_per_request(shape: Shape) -> int:
    return max(1, round(shape.size / ROW_BYTES))


def milvus_op(client, collection: str, shape: Shape, timeout_s: float = 600) -> Op:
    """N insert requests of about S bytes each (rows of id + 128-d vector), then wait until all rows
    are visible to a Strong count. The collection must be fresh (empty)."""
    rows = rows_per_request(shape)
    vectors = np.random.default_rng(shape.count).standard_normal((rows, ROW_DIM), dtype=np.float32)
    t0 = time.perf_counter()
    errors = 0
    for i in range(shape.count):
        try:
            client.insert(collection, np.arange(i * rows, (i + 1) * rows), vectors, timeout_s=timeout_s)
        except Exception:  # noqa: BLE001 - counted
            errors += 1
    want, seen = (shape.count - errors) * rows, -1
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen = client.count(collection)
        if seen >= want:
            break
        time.sleep(0.05)
    return _op(time.perf_counter() - t0, shape, shape.count - errors, seen // rows if seen > 0 else 0, errors,
               f"{seen} of {shape.count * rows} rows visible")
