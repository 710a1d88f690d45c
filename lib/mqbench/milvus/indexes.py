"""Index types Milvus 2.3 builds on float vectors: their build and search parameters and valid ranges.

Checked before any server starts, so a typo or an out-of-range value is one clear error naming
the parameter, not a failed index build minutes into a run.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from mqbench.core.errors import ParameterError

INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class IndexType:
    build: dict = field(default_factory=dict)    # name -> (low, high); bounds may name "k", "nlist" or "dim"
    search: dict = field(default_factory=dict)
    required: tuple = ()                          # build parameters without a server default
    knob: str = ""                                # the search parameter a recall-vs-QPS sweep varies


INDEXES: dict[str, IndexType] = {
    "FLAT": IndexType(),
    "IVF_FLAT": IndexType({"nlist": (1, 65536)}, {"nprobe": (1, "nlist")}, ("nlist",), "nprobe"),
    "IVF_SQ8": IndexType({"nlist": (1, 65536)}, {"nprobe": (1, "nlist")}, ("nlist",), "nprobe"),
    "IVF_PQ": IndexType({"nlist": (1, 65536), "m": (1, "dim"), "nbits": (1, 16)}, {"nprobe": (1, "nlist")},
                        ("nlist", "m"), "nprobe"),
    "HNSW": IndexType({"M": (2, 2048), "efConstruction": (1, INT32_MAX)}, {"ef": ("k", 32768)},
                      ("M", "efConstruction"), "ef"),
    "DISKANN": IndexType({}, {"search_list": ("k", 65535)}, (), "search_list"),
    "AUTOINDEX": IndexType(),
}


# measured: the wheel's index node fails "C Runtime Exception: bad_function_call" and datacoord retries forever
EMBEDDED_UNSUPPORTED = {"DISKANN": "the embedded Milvus 2.3.5 wheel cannot build DISKANN (its index node fails with "
                                   "bad_function_call and retries forever); use it against an external server (uri)"}


def _bound(bound, context: dict) -> int | None:
    return context.get(bound) if isinstance(bound, str) else bound


def _check(params: dict, allowed: dict, context: dict, what: str, index_type: str) -> None:
    if not isinstance(params, dict):
        raise ParameterError(f"{what} must be a mapping of parameter to value, got {params!r}")
    for name, value in params.items():
        if name not in allowed:
            takes = ", ".join(allowed) or "no parameters"
            raise ParameterError(f"{what}: {index_type} does not take {name!r} (it takes {takes})")
        low, high = (_bound(b, context) for b in allowed[name])
        if None in (low, high):  # bounded by the dimension, not known yet: checked again with it
            low, high = low or 1, high or 2**31 - 1
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ParameterError(f"{what}: {name}={value!r} is out of range for {index_type}; "
                             f"it must be an integer in [{low}, {high}]")


def check_index(index_type: str, params: dict, dim: int | None, embedded: bool = True) -> None:
    """Raise ParameterError unless ``index_type`` exists (and builds on the embedded server when ``embedded``)
    and ``params`` are its build parameters, in range (those bounded by the dimension only when ``dim`` is known)."""
    if index_type not in INDEXES:
        raise ParameterError(f"index_type {index_type!r} is not one of {', '.join(INDEXES)}")
    if embedded and index_type in EMBEDDED_UNSUPPORTED:
        raise ParameterError(f"index_type {index_type}: {EMBEDDED_UNSUPPORTED[index_type]}")
    spec = INDEXES[index_type]
    _check(params, spec.build, {"dim": dim}, "index_params", index_type)
    missing = [p for p in spec.required if p not in params]
    if missing:
        raise ParameterError(f"index_params: {index_type} needs {missing}")
    if index_type == "IVF_PQ" and dim is not None and dim % params["m"]:
        raise ParameterError(f"index_params: IVF_PQ m={params['m']} must divide the dimension {dim}")


def check_search(index_type: str, params: dict, build_params: dict, k: int, what: str = "search_params") -> None:
    """Raise ParameterError unless ``params`` are search parameters of ``index_type``, in range for top-``k``."""
    context = {"k": k, "nlist": build_params.get("nlist", 65536)}
    _check(params, INDEXES[index_type].search, context, what, index_type)
