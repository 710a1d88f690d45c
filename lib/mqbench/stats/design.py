"""The experimental design: the variants compared, and the seeded, balanced order they run in.

A *variant* is one server of a kind in :data:`KINDS` — an embedded Milvus (an MQ, a release, overrides) or a
deployment by URI — with a label (``rocksmq``, ``natsmq``, or ``rocksmq-1``/``rocksmq-2`` in an A/A comparison). The first variant is the baseline; every ratio is
another variant ÷ the baseline.

Variants are measured in *blocks*: in each block every variant is measured once, in an order taken
from a Williams design (a balanced Latin square: each variant runs in each position, and follows
each other variant, equally often), the rows shuffled with a seed. Two variants give AB and BA
blocks in equal numbers — never A A B B — so drift of a shared host hits every variant alike
(Kalibera & Jones, ISMM 2013). The same orders interleave grid cells and server starts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mqbench.core.errors import ParameterError, ServerError
from mqbench.core.mqs import EMBEDDED, MQ
from mqbench.milvus.deployment import Deployment, check_uri
from mqbench.milvus.overrides import parse_overrides
from mqbench.milvus.server import EmbeddedMilvus
from mqbench.milvus.versions import RELEASES

EMBEDDED_KIND, DEPLOYMENT = "embedded", "deployment"  # the kinds mqbench ships (the ``server`` column's values)


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
    kind: str = EMBEDDED_KIND  # its entry in :data:`KINDS`
    options: dict = field(default_factory=dict)  # what else its kind keeps (a deployment's uri, token_env, …)

    @property
    def columns(self) -> dict:
        """What every summary row measured on this variant carries."""
        return {"variant": self.label, "mq": self.mq, "variant_index": self.index,
                "server": "external" if self.server is None else self.kind,
                **({"milvus_version": self.server.version} if self.server is not None else {})}

    def make_server(self, folder: Path):
        """Its server (not started), in ``folder`` if its kind keeps one here."""
        return KINDS[self.kind].server(self, folder)

    @property
    def local(self) -> bool:
        """Whether its server runs on this machine from a folder mqbench owns (which can be copied)."""
        return KINDS[self.kind].local

    @property
    def restartable(self) -> bool:
        """Whether mqbench can start its server again (the start is then the unit of run-time verdicts)."""
        return KINDS[self.kind].restartable(self)


class Embedded:
    """An embedded Milvus on this machine: an ``mq`` the server runs, ``overrides`` (dotted ``milvus.yaml``
    keys) and a ``version`` (a release of :data:`mqbench.milvus.versions.RELEASES`; default the environment's
    own), labelled ``<mq>`` or ``<mq>-<version>`` unless given a label."""

    keys = ("mq", "overrides", "version")
    local = True

    def parse(self, entry: dict, overrides: dict) -> Variant:
        version = str(entry.get("version") or "")
        if version not in ("", *RELEASES):
            raise ParameterError(f"variants entry {entry!r}: version must be one of {', '.join(RELEASES)}")
        if entry.get("mq") not in EMBEDDED:
            raise ParameterError(f"unknown mq {entry.get('mq')!r}: choose one of {', '.join(EMBEDDED)}")
        merged = {**parse_overrides(overrides), **parse_overrides(entry.get("overrides"))}
        if merged.get("mq.type", entry["mq"]) != entry["mq"]:
            raise ParameterError(f"override mq.type={merged['mq.type']} contradicts mq={entry['mq']}; "
                                 "use the mq of the variant")
        return Variant(f"{entry['mq']}-{version}" if version else entry["mq"], entry["mq"], merged, version=version)

    def server(self, v: Variant, folder: Path):
        return EmbeddedMilvus(v.mq, folder, v.overrides, version=v.version)

    def restartable(self, v: Variant) -> bool:
        return True


class External:
    """A deployment someone else runs (:class:`mqbench.milvus.deployment.Deployment`): its ``uri``, the
    environment variable holding its token (``token_env``), the ``mq`` it runs (as its owner states it), an
    optional ``restart`` command and an optional Prometheus ``metrics`` URL. Its ``label`` is required."""

    keys = ("uri", "token_env", "mq", "restart", "metrics")
    local = False

    def parse(self, entry: dict, overrides: dict) -> Variant:
        missing = [k for k in ("uri", "token_env", "mq", "label") if not entry.get(k)]
        if missing:
            raise ParameterError(f"variants entry {entry!r}: a deployment needs {', '.join(missing)}")
        if entry["mq"] not in MQ._value2member_map_:
            raise ParameterError(f"variants entry {entry!r}: mq must be one of {', '.join(MQ)}")
        if overrides:
            raise ParameterError("server_overrides apply to embedded servers only; a deployment is configured by "
                                 "its owner")
        try:
            check_uri(entry["uri"])
        except ServerError as exc:
            raise ParameterError(f"variants entry {entry['label']!r}: {exc}") from None
        options = {k: str(entry.get(k) or "") for k in ("uri", "token_env", "restart", "metrics")}
        return Variant(entry["label"], entry["mq"], kind=DEPLOYMENT, options=options)

    def server(self, v: Variant, folder: Path):
        return Deployment(mq=v.mq, **v.options)

    def restartable(self, v: Variant) -> bool:
        return bool(v.options["restart"])


KINDS = {EMBEDDED_KIND: Embedded(), DEPLOYMENT: External()}  # adding a variant kind is one entry here


def kind_of(entry: dict) -> str:
    """An entry's kind: its ``kind``, else a deployment if it has a ``uri``, else an embedded server."""
    name = entry.get("kind") or (DEPLOYMENT if "uri" in entry else EMBEDDED_KIND)
    if name not in KINDS:
        raise ParameterError(f"variants entry {entry!r}: unknown kind {name!r}; choose one of {', '.join(KINDS)}")
    return name


def parse_variants(spec, overrides: dict | None = None, external: bool = False, local_only: str = "") -> list[Variant]:
    """``["rocksmq", "natsmq"]`` or entries (mappings) of any kind in :data:`KINDS` — embedded servers
    ``{"mq": …, "overrides": {…}, "label": …, "version": …}`` and deployments ``{"uri": …, "token_env": …,
    "mq": …, "label": …, "restart": …}`` side by side (one entry alone: a list of it); ``overrides`` apply to
    every embedded variant (an entry's own win). Repeated labels get ``-1``, ``-2`` suffixes (A/A). With
    ``external`` (the ``uri`` parameter) the single entry is only the label of that external server's MQ. A study
    that starts and kills its own servers names itself in ``local_only``: a variant of a kind it cannot run there
    is refused."""
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
        if not isinstance(entry, dict):
            raise ParameterError(f"variants entry {entry!r}: give an MQ name or a mapping")
        kind = kind_of(entry)
        unknown = set(entry) - {"kind", "label", *KINDS[kind].keys}
        if unknown:
            raise ParameterError(f"variants entry {entry!r}: unknown key(s) {sorted(unknown)}; {'an' if kind[0] in 'aeiou' else 'a'} "
                                 f"{kind} variant takes {', '.join(('label', *KINDS[kind].keys))}")
        if external:
            if kind != EMBEDDED_KIND or set(entry) - {"mq", "label"}:
                raise ParameterError(f"variants entry {entry!r}: with uri set, give only the external server's mq "
                                     "(version, overrides and kinds apply to embedded servers and deployments)")
            v = Variant(str(entry["mq"]), str(entry["mq"]))
        else:
            v = KINDS[kind].parse(entry, overrides)
            if local_only and not KINDS[kind].local:
                raise ParameterError(f"{local_only} starts and kills its own servers: {kind} variant "
                                     f"{entry.get('label')!r} applies to search_query (or give this notebook uri)")
        v.index, v.label, v.kind = i, str(entry.get("label") or v.label), kind
        variants.append(v)
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
