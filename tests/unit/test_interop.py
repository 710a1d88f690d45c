"""VectorDBBench custom-dataset folders as datasets (`mqbench import-dataset`)."""
import numpy as np
import pandas as pd
from mqbench import cli
from mqbench.data import datasets


def _vdbb_folder(path, n=300, nq=5, dim=8):
    rng = np.random.default_rng(0)
    base, queries = rng.standard_normal((n, dim), dtype=np.float32), rng.standard_normal((nq, dim), dtype=np.float32)
    gt = datasets.ground_truth(base, queries, 10, "L2")
    path.mkdir()
    pd.DataFrame({"id": np.arange(n), "emb": list(base)}).to_parquet(path / "train.parquet")
    pd.DataFrame({"id": np.arange(nq), "emb": list(queries)}).to_parquet(path / "test.parquet")
    pd.DataFrame({"id": np.arange(nq), "neighbors_id": list(gt)}).to_parquet(path / "neighbors.parquet")
    return path


def test_import_dataset_checks_the_folder_and_says_how_to_use_it(tmp_path, capsys):
    folder = _vdbb_folder(tmp_path / "custom")
    assert cli.main(["import-dataset", "--from", "vectordbbench", str(folder), "--metric", "L2"]) == 0
    out = capsys.readouterr().out
    assert "rows            300" in out and "dim             8" in out and "queries         5" in out
    assert f"-p dataset {folder.resolve()} -p metric L2" in out


def test_import_dataset_without_metric_is_a_clear_error(tmp_path, capsys):
    folder = _vdbb_folder(tmp_path / "custom")
    assert cli.main(["import-dataset", "--from", "vectordbbench", str(folder)]) == 2
    assert "does not record its metric" in capsys.readouterr().err
