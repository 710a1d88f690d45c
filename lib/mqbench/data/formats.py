"""Vector file formats, read in fixed-size chunks (memory-mapped or batched; never the whole base).

Every reader is a :class:`Source`: ``n`` rows of ``dim`` values, ``chunks(rows, limit)`` yields
``(ids, float32 block)``, ``take(rows)`` reads given row positions. Integer data (uint8/int8
``bvecs``/``u8bin``/``i8bin``) is converted to float32 per chunk.
"""
from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Iterator

import numpy as np

from mqbench.core.errors import FormatError


class Source:
    path: str
    n: int
    dim: int
    dtype: np.dtype

    def _rows(self, start: int, stop: int) -> np.ndarray:
        raise NotImplementedError

    def ids(self, start: int, stop: int) -> np.ndarray:
        return np.arange(start, stop, dtype=np.int64)

    def check_limit(self, limit: int | None) -> int:
        if limit is None or limit == 0:
            return self.n
        if limit < 0 or limit > self.n:
            raise FormatError(f"{self.path}: n limit {limit} is larger than the file's {self.n} rows"
                              if limit > 0 else f"{self.path}: n limit must be positive, got {limit}")
        return int(limit)

    def chunks(self, rows: int = 100_000, limit: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        stop = self.check_limit(limit)
        for start in range(0, stop, rows):
            end = min(start + rows, stop)
            yield self.ids(start, end), np.ascontiguousarray(self._rows(start, end), dtype=np.float32)

    def take(self, rows: np.ndarray) -> np.ndarray:
        return np.stack([self._rows(int(r), int(r) + 1)[0] for r in rows]).astype(np.float32)

    def read_all(self, limit: int | None = None) -> np.ndarray:
        """For small query sets only."""
        return np.concatenate([block for _, block in self.chunks(limit=limit)]) if self.n else np.empty(
            (0, self.dim), np.float32)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r}, n={self.n}, dim={self.dim}, dtype={np.dtype(self.dtype).name})"


class ArraySource(Source):
    """An in-memory array."""

    def __init__(self, array: np.ndarray, path: str = "<array>"):
        if array.ndim != 2:
            raise FormatError(f"{path}: expected a 2-d array, got shape {array.shape}")
        self.array, self.path = array, str(path)
        self.n, self.dim, self.dtype = int(array.shape[0]), int(array.shape[1]), array.dtype

    def _rows(self, start, stop):
        return self.array[start:stop]

    def take(self, rows):
        return np.asarray(self.array[np.asarray(rows)], dtype=np.float32)


class _RowFile(Source):
    """Fixed-size rows at ``offset`` of a file, read with ``pread``: streaming never maps the whole
    file, so the reader's resident memory stays at one chunk whatever the file size."""

    def _open(self, path, offset: int, row_bytes: int, n: int) -> None:
        self.path, self.offset, self.row_bytes, self.n = str(path), offset, row_bytes, n
        self._fd = os.open(path, os.O_RDONLY)

    def _read(self, start: int, stop: int) -> np.ndarray:
        want = (stop - start) * self.row_bytes
        buf = os.pread(self._fd, want, self.offset + start * self.row_bytes)
        if len(buf) != want:
            raise FormatError(f"{self.path}: file ended early at row {start + len(buf) // self.row_bytes}")
        return np.frombuffer(buf, dtype=np.uint8).reshape(stop - start, self.row_bytes)

    def _decode(self, raw: np.ndarray, first_row: int) -> np.ndarray:
        return raw.view(self.dtype)

    def _rows(self, start, stop):
        return self._decode(self._read(start, stop), start)

    def take(self, rows):
        return np.stack([self._rows(int(r), int(r) + 1)[0] for r in rows]).astype(np.float32)

    def __del__(self):
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)


def _npy_header(path) -> tuple[tuple, bool, np.dtype, int]:
    with open(path, "rb") as fh:
        try:
            major, _ = np.lib.format.read_magic(fh)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else \
                np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(fh)
        except ValueError as exc:
            raise FormatError(f"{path}: not a .npy file ({exc})") from None
        return shape, fortran, dtype, fh.tell()


class NpySource(_RowFile):
    """A C-ordered 2-d ``.npy`` file."""

    def __init__(self, path: str | Path):
        shape, _, dtype, offset = _npy_header(path)
        self.dim, self.dtype = int(shape[1]), np.dtype(dtype)
        self._open(path, offset, self.dim * self.dtype.itemsize, int(shape[0]))
        if os.path.getsize(path) < offset + self.n * self.row_bytes:
            raise FormatError(f"{path}: truncated: header says {shape} but the file is shorter")


def read_npy(path: str | Path) -> Source:
    """Row-streamed if C-ordered; a Fortran-ordered file (columns contiguous, like GloVe's) is memory-mapped."""
    shape, fortran, _, _ = _npy_header(path)
    if len(shape) != 2:
        raise FormatError(f"{path}: expected a 2-d array, got shape {shape}")
    return ArraySource(np.load(path, mmap_mode="r"), str(path)) if fortran else NpySource(path)


def _little_endian(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    return dtype.newbyteorder("<") if dtype.itemsize > 1 else dtype


def _size_at_least(path, minimum: int, what: str) -> int:
    size = os.path.getsize(path)
    if size < minimum:
        raise FormatError(f"{path}: too short for {what} ({size} bytes)")
    return size


class XvecsSource(_RowFile):
    """TEXMEX ``.fvecs``/``.ivecs``/``.bvecs``: each row an int32 ``d`` then ``d`` values."""

    def __init__(self, path: str | Path, dtype):
        self.dtype = _little_endian(dtype)
        size = _size_at_least(path, 4, f"a {Path(path).suffix} file")
        self.dim = int(np.fromfile(path, dtype="<i4", count=1)[0])
        if self.dim <= 0:
            raise FormatError(f"{path}: first row has dim header {self.dim}")
        row_bytes = 4 + self.dim * self.dtype.itemsize
        if size % row_bytes:
            raise FormatError(f"{path}: truncated: {size} bytes is not a whole number of {row_bytes}-byte rows "
                              f"(dim {self.dim})")
        self._open(path, 0, row_bytes, size // row_bytes)

    def _decode(self, raw, first_row):
        headers = raw[:, :4].copy().view("<i4").ravel()
        bad = np.flatnonzero(headers != self.dim)
        if bad.size:
            raise FormatError(f"{self.path}: row {first_row + bad[0]} has dim header {headers[bad[0]]}, "
                              f"expected {self.dim}")
        return raw[:, 4:].copy().view(self.dtype)


class BinSource(_RowFile):
    """big-ann-benchmarks ``.fbin/.u8bin/.i8bin/.ibin``: uint32 n, uint32 d, then n*d values."""

    def __init__(self, path: str | Path, dtype):
        self.dtype = _little_endian(dtype)
        size = _size_at_least(path, 8, "a header")
        n, self.dim = (int(v) for v in np.fromfile(path, dtype="<u4", count=2))
        expected = 8 + n * self.dim * self.dtype.itemsize
        if size != expected:
            raise FormatError(f"{path}: header says {n} x {self.dim} ({expected} bytes) but the file has "
                              f"{size} bytes")
        self._open(path, 8, self.dim * self.dtype.itemsize, n)


def read_bigann_groundtruth(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """big-ann ``.bin`` ground truth: uint32 nq, uint32 k, int32 ids (nq*k), float32 distances (nq*k)."""
    size = os.path.getsize(path)
    nq, k = (int(v) for v in np.fromfile(path, dtype="<u4", count=2))
    if size != 8 + nq * k * 8:
        raise FormatError(f"{path}: header says {nq} x {k} ground truth ({8 + nq * k * 8} bytes) but the file "
                          f"has {size} bytes")
    ids = np.fromfile(path, dtype="<i4", count=nq * k, offset=8).reshape(nq, k).astype(np.int64)
    dist = np.fromfile(path, dtype="<f4", count=nq * k, offset=8 + nq * k * 4).reshape(nq, k)
    return ids, dist


HDF5_METRICS = {"euclidean": "L2", "angular": "COSINE", "dot": "IP"}


class Hdf5Dataset:
    """ann-benchmarks HDF5: ``train``, ``test``, ``neighbors``, ``distances``, attribute ``distance``."""

    def __init__(self, path: str | Path):
        import h5py

        self.path = str(path)
        self.file = h5py.File(path, "r")
        for name in ("train", "test"):
            if name not in self.file:
                raise FormatError(f"{path}: HDF5 file has no '{name}' dataset (has: {', '.join(self.file)})")
        distance = self.file.attrs.get("distance")
        distance = distance.decode() if isinstance(distance, bytes) else distance
        if distance not in HDF5_METRICS:
            raise FormatError(f"{path}: attribute distance={distance!r} is not one of {', '.join(HDF5_METRICS)}")
        self.metric = HDF5_METRICS[distance]
        self.base = _H5Source(self.file["train"], self.path + ":train")
        self.queries = np.asarray(self.file["test"], dtype=np.float32)
        self.neighbors = np.asarray(self.file["neighbors"], dtype=np.int64) if "neighbors" in self.file else None
        self.distances = np.asarray(self.file["distances"], dtype=np.float32) if "distances" in self.file else None


class _H5Source(Source):
    def __init__(self, dataset, path):
        self.ds, self.path = dataset, path
        self.n, self.dim = (int(v) for v in dataset.shape)
        self.dtype = dataset.dtype

    def _rows(self, start, stop):
        return self.ds[start:stop]

    def take(self, rows):
        order = np.argsort(rows)
        out = np.empty((len(rows), self.dim), np.float32)
        out[order] = self.ds[np.asarray(rows)[order]]
        return out


class ParquetSource(Source):
    """VectorDBBench-style parquet (columns ``id`` and ``emb``), one file or ``train-NN-of-MM`` shards."""

    def __init__(self, files: list[str], path: str):
        import pyarrow.parquet as pq

        self.path, self.files = path, files
        self.meta = [pq.ParquetFile(f) for f in files]
        for f, meta in zip(files, self.meta):
            names = meta.schema_arrow.names
            for column in ("id", "emb"):
                if column not in names:
                    raise FormatError(f"{f}: parquet has no '{column}' column (has: {', '.join(names)})")
        self.n = sum(m.metadata.num_rows for m in self.meta)
        first = next(self.meta[0].iter_batches(batch_size=1, columns=["emb"]), None)
        self.dim = len(first.column(0)[0]) if first is not None and first.num_rows else 0
        self.dtype = np.dtype(np.float32)

    def chunks(self, rows: int = 100_000, limit: int | None = None):
        stop = self.check_limit(limit)
        seen = 0
        for meta in self.meta:
            for batch in meta.iter_batches(batch_size=rows, columns=["id", "emb"]):
                take = min(batch.num_rows, stop - seen)
                if take <= 0:
                    return
                ids = batch.column(0).to_numpy()[:take].astype(np.int64)
                emb = np.asarray(batch.column(1).to_numpy(zero_copy_only=False)[:take].tolist(), np.float32)
                if emb.ndim != 2 or emb.shape[1] != self.dim:
                    raise FormatError(f"{self.path}: rows near {seen} have dim {emb.shape[-1]}, expected {self.dim}")
                seen += take
                yield ids, emb

    def all_ids(self, limit: int | None = None) -> np.ndarray:
        stop = self.check_limit(limit)
        ids = np.concatenate([b.column(0).to_numpy() for m in self.meta for b in m.iter_batches(columns=["id"])])
        return ids[:stop].astype(np.int64)

    def take(self, rows):
        raise FormatError(f"{self.path}: random row access is not supported for parquet; use ids")


def vdbb_files(directory: Path) -> list[str]:
    single = directory / "train.parquet"
    shards = sorted(glob.glob(str(directory / "train-*-of-*.parquet")),
                    key=lambda f: int(re.search(r"train-(\d+)-of", f).group(1)))
    if single.exists():
        return [str(single)]
    if shards:
        return shards
    raise FormatError(f"{directory}: no train.parquet or train-NN-of-MM.parquet")


def read_vdbb_neighbors(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``neighbors.parquet`` (``id``, ``neighbors_id``) → query ids and neighbour id matrix."""
    import pandas as pd

    df = pd.read_parquet(path)
    for column in ("id", "neighbors_id"):
        if column not in df:
            raise FormatError(f"{path}: parquet has no '{column}' column")
    return df["id"].to_numpy(np.int64), np.stack(df["neighbors_id"].to_numpy()).astype(np.int64)


VECTOR_SUFFIXES = {
    ".fvecs": lambda p: XvecsSource(p, "<f4"), ".ivecs": lambda p: XvecsSource(p, "<i4"),
    ".bvecs": lambda p: XvecsSource(p, "u1"), ".fbin": lambda p: BinSource(p, "<f4"),
    ".u8bin": lambda p: BinSource(p, "u1"), ".i8bin": lambda p: BinSource(p, "i1"),
    ".ibin": lambda p: BinSource(p, "<i4"), ".npy": read_npy,
}


def open_vectors(path: str | Path) -> Source:
    """A reader for a vector file, chosen by its extension."""
    path = Path(path)
    if not path.exists():
        raise FormatError(f"{path}: no such file")
    reader = VECTOR_SUFFIXES.get(path.suffix.lower())
    if reader is None:
        raise FormatError(f"{path}: unknown vector format {path.suffix or '(no extension)'!r}; "
                          f"known: {', '.join(VECTOR_SUFFIXES)}, .hdf5, a VectorDBBench parquet folder")
    return reader(path)
