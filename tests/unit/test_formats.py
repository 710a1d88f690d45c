"""Every vector format round-trips on tiny files written here; every malformed file is refused by name."""
import numpy as np
import pandas as pd
import pytest
from mqbench.data import datasets
from mqbench.data.formats import FormatError, open_vectors, read_bigann_groundtruth

RNG = np.random.default_rng(7)
BASE = RNG.standard_normal((257, 6)).astype(np.float32)
QUERIES = RNG.standard_normal((5, 6)).astype(np.float32)


def write_xvecs(path, array, dtype):
    rows = [np.concatenate([np.array([array.shape[1]], "<i4").view(np.uint8),
                            np.asarray(r, dtype).view(np.uint8)]) for r in array]
    np.concatenate(rows).tofile(path)


def write_bin(path, array, dtype):
    with open(path, "wb") as fh:
        np.array(array.shape, "<u4").tofile(fh)
        np.asarray(array, dtype).tofile(fh)


def chunked(source, rows=50, limit=None):
    return np.concatenate([block for _, block in source.chunks(rows, limit)])


@pytest.mark.parametrize("suffix, dtype, data", [
    (".fvecs", "<f4", BASE), (".ivecs", "<i4", (BASE * 10).astype(np.int32)),
    (".bvecs", "u1", (np.abs(BASE) * 40).astype(np.uint8)),
])
def test_xvecs_round_trip(tmp_path, suffix, dtype, data):
    path = tmp_path / f"x{suffix}"
    write_xvecs(path, data, dtype)
    src = open_vectors(path)
    assert (src.n, src.dim) == data.shape
    np.testing.assert_array_equal(chunked(src), data.astype(np.float32))
    np.testing.assert_array_equal(chunked(src, limit=100), data[:100].astype(np.float32))
    np.testing.assert_array_equal(src.take(np.array([3, 1])), data[[3, 1]].astype(np.float32))


@pytest.mark.parametrize("suffix, dtype, data", [
    (".fbin", "<f4", BASE), (".u8bin", "u1", (np.abs(BASE) * 40).astype(np.uint8)),
    (".i8bin", "i1", (BASE * 20).astype(np.int8)), (".ibin", "<i4", (BASE * 10).astype(np.int32)),
])
def test_bigann_bin_round_trip(tmp_path, suffix, dtype, data):
    path = tmp_path / f"b{suffix}"
    write_bin(path, data, dtype)
    src = open_vectors(path)
    assert (src.n, src.dim) == data.shape
    np.testing.assert_array_equal(chunked(src, 64), data.astype(np.float32))


def test_npy_is_read_in_chunks(tmp_path):
    np.save(tmp_path / "v.npy", BASE)
    src = open_vectors(tmp_path / "v.npy")
    assert (src.n, src.dim) == BASE.shape
    np.testing.assert_array_equal(chunked(src), BASE)


def test_bigann_groundtruth_and_texmex_layout_with_provided_groundtruth(tmp_path):
    ids, dist = datasets.exact_ground_truth(datasets.ArraySource(BASE), QUERIES, 10, "L2", progress=False)
    with open(tmp_path / "gt.bin", "wb") as fh:
        np.array([5, 10], "<u4").tofile(fh)
        ids.astype("<i4").tofile(fh)
        dist.astype("<f4").tofile(fh)
    got_ids, got_dist = read_bigann_groundtruth(tmp_path / "gt.bin")
    np.testing.assert_array_equal(got_ids, ids)
    np.testing.assert_allclose(got_dist, dist)
    write_xvecs(tmp_path / "t_base.fvecs", BASE, "<f4")
    write_xvecs(tmp_path / "t_query.fvecs", QUERIES, "<f4")
    write_xvecs(tmp_path / "t_groundtruth.ivecs", ids, "<i4")
    data = datasets.load(str(tmp_path / "t_base.fvecs"), k=10, progress=False)
    assert data.ground_truth == "provided" and data.n == 257
    np.testing.assert_allclose(data.distances, dist, rtol=1e-4)  # recomputed in Milvus's convention
    prefix = datasets.load(str(tmp_path / "t_base.fvecs"), n=100, k=10, progress=False)
    assert prefix.ground_truth == "computed" and prefix.neighbors.max() < 100  # not the full base's


def test_hdf5_round_trip(tmp_path):
    import h5py

    ids, _ = datasets.exact_ground_truth(datasets.ArraySource(BASE), QUERIES, 10, "COSINE", progress=False)
    with h5py.File(tmp_path / "a.hdf5", "w") as f:
        f.create_dataset("train", data=BASE)
        f.create_dataset("test", data=QUERIES)
        f.create_dataset("neighbors", data=ids)
        f.attrs["distance"] = "angular"
    data = datasets.load(str(tmp_path / "a.hdf5"), k=10, progress=False)
    assert data.metric == "COSINE" and data.ground_truth == "provided"
    np.testing.assert_array_equal(chunked(data.base), BASE)


def test_vectordbbench_parquet_folder_uses_ids_not_positions(tmp_path):
    ids = np.arange(1000, 1000 + len(BASE))
    half = len(BASE) // 2
    pd.DataFrame({"id": ids[:half], "emb": list(BASE[:half])}).to_parquet(tmp_path / "train-00-of-02.parquet")
    pd.DataFrame({"id": ids[half:], "emb": list(BASE[half:])}).to_parquet(tmp_path / "train-01-of-02.parquet")
    pd.DataFrame({"id": [7, 3], "emb": list(QUERIES[:2])}).to_parquet(tmp_path / "test.parquet")
    pd.DataFrame({"id": [3, 7], "neighbors_id": [list(ids[:3]), list(ids[3:6])]}).to_parquet(
        tmp_path / "neighbors.parquet")
    data = datasets.load(str(tmp_path), metric="L2", k=3, progress=False)
    assert data.n == len(BASE) and data.ground_truth == "provided"
    np.testing.assert_array_equal(data.neighbors, [ids[3:6], ids[:3]])  # matched by query id
    got_ids = np.concatenate([i for i, _ in data.base.chunks(100)])
    np.testing.assert_array_equal(got_ids, ids)


BAD_FILES = {
    "truncated fvecs": (lambda p: (write_xvecs(p / "x.fvecs", BASE, "<f4"),
                                   (p / "x.fvecs").write_bytes((p / "x.fvecs").read_bytes()[:-3])), "x.fvecs",
                        "truncated"),
    "row with another dim header": (lambda p: _bad_header(p), "h.fvecs", "row 2 has dim header 9, expected 6"),
    "fbin header/size mismatch": (lambda p: (write_bin(p / "s.fbin", BASE, "<f4"),
                                            (p / "s.fbin").write_bytes((p / "s.fbin").read_bytes()[:-4])),
                                  "s.fbin", "header says 257 x 6"),
    "unknown extension": (lambda p: (p / "v.csv").write_text("1,2"), "v.csv", "unknown vector format '.csv'"),
    "hdf5 without train": (lambda p: _h5(p, {"test": QUERIES}), "m.hdf5", "no 'train' dataset"),
    "parquet without emb": (lambda p: pd.DataFrame({"id": [1], "vec": [[1.0]]}).to_parquet(p / "train.parquet"),
                            ".", "no 'emb' column"),
}


def _bad_header(p):
    write_xvecs(p / "h.fvecs", BASE, "<f4")
    raw = bytearray((p / "h.fvecs").read_bytes())
    raw[2 * 28:2 * 28 + 4] = np.array([9], "<i4").tobytes()
    (p / "h.fvecs").write_bytes(bytes(raw))


def _h5(p, sets):
    import h5py

    with h5py.File(p / "m.hdf5", "w") as f:
        for k, v in sets.items():
            f.create_dataset(k, data=v)
        f.attrs["distance"] = "euclidean"


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_are_refused_naming_file_and_fault(tmp_path, case):
    make, name, fault = BAD_FILES[case]
    make(tmp_path)
    with pytest.raises(FormatError) as info:
        data = datasets.load(str(tmp_path / name), metric="L2", progress=False)
        data.base.read_all()
    message = str(info.value)
    assert fault in message and "\n" not in message
    assert name.strip(".") in message or str(tmp_path) in message


def test_query_dim_and_groundtruth_ids_out_of_range(tmp_path):
    write_xvecs(tmp_path / "q_base.fvecs", BASE, "<f4")
    write_xvecs(tmp_path / "q_query.fvecs", QUERIES[:, :4], "<f4")
    with pytest.raises(ValueError, match="query dim 4 differs from base dim 6"):
        datasets.load(str(tmp_path / "q_base.fvecs"), progress=False)
    write_xvecs(tmp_path / "g_base.fvecs", BASE, "<f4")
    write_xvecs(tmp_path / "g_query.fvecs", QUERIES, "<f4")
    write_xvecs(tmp_path / "g_groundtruth.ivecs", np.full((5, 3), 999), "<i4")
    with pytest.raises(FormatError, match="refers to id 999 but the base has n=257"):
        datasets.load(str(tmp_path / "g_base.fvecs"), progress=False)


def test_recall_counts_ties_and_ndcg():
    truth = np.array([[1, 2, 3]])
    truth_dist = np.array([[0.1, 0.2, 0.3]])
    # id 9 is not in the true top-3 but is exactly as far as the 3rd neighbour: a hit
    assert datasets.recall_at_k([[1, 2, 9]], truth, 3, [[0.1, 0.2, 0.3]], truth_dist, "L2") == 1.0
    assert datasets.recall_at_k([[1, 2, 9]], truth, 3) == pytest.approx(2 / 3)
    assert datasets.ndcg_at_k([[1, 2, 3]], truth, 3) == pytest.approx(1.0)
    assert datasets.ndcg_at_k([[9, 2, 3]], truth, 3) < 1.0


def test_glove_is_registered_with_a_fixed_holdout():
    data = datasets.load("glove-50-angular", nq=3, k=5, progress=False)
    assert (data.n, data.dim, data.metric, len(data.queries)) == (399_000, 50, "COSINE", 3)
    assert data.neighbors.shape == (3, 5) and data.neighbors.max() < 399_000
