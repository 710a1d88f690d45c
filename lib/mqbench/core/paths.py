"""Where mqbench's own files are — the project root, its notebooks, data and results folders — and the name of
the environment variable an external server's token comes from."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
NOTEBOOKS = PROJECT_ROOT / "notebooks"
DATA = PROJECT_ROOT / "data"
TOKEN_ENV = "MQBENCH_TOKEN"  # an external Milvus's token: read from here only, never written down


def results_root() -> Path:
    """``$MQBENCH_RESULTS``, else ``results/`` at the project root."""
    return Path(os.environ.get("MQBENCH_RESULTS", PROJECT_ROOT / "results"))
