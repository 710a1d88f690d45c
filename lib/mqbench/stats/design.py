"""The experimental design: the variants compared, and the seeded, balanced order they run in.

A *variant* is an MQ plus optional server overrides, with a label (``rocksmq``, ``natsmq``, or
``rocksmq-1``/``rocksmq-2`` in an A/A comparison). The first variant is the baseline; every ratio is
another variant ÷ the baseline.

Variants are measured in *blocks*: in each block every variant is measured once, in an order taken
from a Williams design (a balanced Latin square: each variant runs in each position, and follows
each other variant, equally often), the rows shuffled with a seed. Two variants give AB and BA
blocks in equal numbers — never A A B B — so drift of a shared host hits every variant alike
(Kalibera & Jones, ISMM 2013). The same orders interleave grid cells and server starts.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mqbench.core.errors import ParameterError
from mqbench.core.mqs import EMBEDDED
from mqbench.milvus.overrides import parse_overrides
from mqbench.milvus.versions import RELEASES


@dataclass
class Variant:
    """One side of a comparison; ``index`` 0 is the baseline. ``conn``/``server`` are set once started."""

    label: str
    mq: str
    overrides: dict = field(default_factory=dict)
    index: int = 0
    conn: object = field(default=None, repr=False)
    server: object = field(default=None, repr=False)
    version: str = ""   # the embedded Milvus release ("": the environment's own wheel)

    @property
    def columns(self) -> dict:
        """What every summary row measured on this variant carries."""
        return {"variant": self.label, "mq": self.mq, "variant_index": self.index,
                "server": "external" if self.server is None else "embedded",
                **({"milvus_version": self.server.version} if self.server is not None else {})}


def parse_variants(spec, overrides: dict | None = None, external: bool = False) -> list[Variant]:
    """``["rocksmq", "natsmq"]`` or entries ``{"mq": …, "overrides": {…}, "label": …, "version": …}`` (one entry
    alone: a list of it); ``overrides`` apply to every variant (an entry's own win); ``version`` is an embedded
    Milvus release (:data:`mqbench.milvus.versions.RELEASES`; default the environment's own), and names the
    variant ``<mq>-<version>`` unless it has a label. Repeated labels get ``-1``, ``-2`` suffixes (A/A).
    With ``external`` the single entry is only the label of an external server's MQ."""
    if isinstance(spec, (str, dict)):
        spec = [spec]
    if not isinstance(spec, list) or not spec:
        raise ParameterError(f"variants must be a non-empty list of MQs or {{mq, overrides, label}} entries, "
                             f"got {spec!r}")
    if external and len(spec) != 1:
        raise ParameterError("with uri set there is one server: give exactly one variant (its MQ label)")
    variants = []
    for i, entry in enumerate(spec):
        entry = {"mq": entry} if isinstance(entry, str) else entry
        unknown = set(entry) - {"mq", "overrides", "label", "version"} if isinstance(entry, dict) else {"?"}
        if unknown or "mq" not in entry:
            raise ParameterError(f"variants entry {entry!r}: give an MQ name or a mapping with 'mq' and optional "
                                 "'overrides', 'label' and 'version'")
        version = str(entry.get("version") or "")
        if version and (external or version not in RELEASES):
            raise ParameterError(f"variants entry {entry!r}: version applies to embedded servers and must be one "
                                 f"of {', '.join(RELEASES)}")
        if not external and entry["mq"] not in EMBEDDED:
            raise ParameterError(f"unknown mq {entry['mq']!r}: choose one of {', '.join(EMBEDDED)}")
        merged = {**parse_overrides(overrides), **parse_overrides(entry.get("overrides"))}
        if merged.get("mq.type", entry["mq"]) != entry["mq"]:
            raise ParameterError(f"override mq.type={merged['mq.type']} contradicts mq={entry['mq']}; "
                                 "use the mq of the variant")
        label = entry.get("label") or (f"{entry['mq']}-{version}" if version else entry["mq"])
        variants.append(Variant(str(label), entry["mq"], merged, i, version=version))
    labels = [v.label for v in variants]
    for v in variants:
        if labels.count(v.label) > 1:
            v.label = f"{v.label}-{labels[:v.index + 1].count(v.label)}"
    return variants


def williams(k: int) -> list[list[int]]:
    """Rows of a Williams design for ``k`` treatments: ``k`` rows if ``k`` is even, ``2k`` if odd."""
    if k < 1:
        raise ParameterError(f"a design needs at least one variant, got {k}")
    first = [0]
    for j in range(1, k):
        first.append((first[-1] + (j if j % 2 else k - j)) % k)
    rows = [[(x + r) % k for x in first] for r in range(k)]
    return rows + [row[::-1] for row in rows] if k % 2 else rows


def block_orders(blocks: int, k: int, seed: int) -> list[list[int]]:
    """The variant order of each of ``blocks`` blocks: Williams rows, each used equally often (as far
    as ``blocks`` allows), in a seeded random sequence."""
    if blocks < 1:
        raise ParameterError(f"blocks must be an integer >= 1, got {blocks!r}")
    rows = williams(k)
    rng = np.random.default_rng(seed)
    sequence: list[list[int]] = []
    while len(sequence) < blocks:
        sequence += [rows[i] for i in rng.permutation(len(rows))]
    return sequence[:blocks]
