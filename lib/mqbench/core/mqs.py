"""The MQs mqbench knows, in one registry: what differs by MQ — whether the embedded server runs it (``mq.type``),
where it keeps its retained messages, the config key that bounds its store, and how every figure and table
orders and draws it. Adding an MQ is one :class:`Spec` here."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MQ(StrEnum):
    ROCKSMQ = "rocksmq"
    NATSMQ = "natsmq"
    PULSAR = "pulsar"
    KAFKA = "kafka"
    WOODPECKER = "woodpecker"


@dataclass(frozen=True)
class Spec:
    mq: MQ
    embedded: bool              # the embedded Milvus 2.3.5 server runs it in process (``mq.type``)
    store: tuple[str, ...] = ()  # its folders under an embedded server's data folder
    store_limit_key: str = ""   # the config key that caps its store on disk, when it has one
    dashes: object = ""         # seaborn dash pattern: "" is solid
    marker: str = "o"


SPECS = {spec.mq: spec for spec in (
    Spec(MQ.ROCKSMQ, True, ("rocksmq", "rocksmq_meta_kv"), dashes="", marker="o"),
    Spec(MQ.NATSMQ, True, ("nats",), "natsmq.server.maxFileStore", (4, 1.5), "s"),
    Spec(MQ.PULSAR, False, dashes=(1, 1), marker="^"),
    Spec(MQ.KAFKA, False, dashes=(3, 1, 1, 1), marker="D"),
    Spec(MQ.WOODPECKER, False, dashes=(6, 2), marker="v"),
)}
EMBEDDED = tuple(mq.value for mq, spec in SPECS.items() if spec.embedded)  # the ``mq`` an embedded variant may name


def word(label) -> str:
    """A variant or series label's first word (``rocksmq-2`` → ``rocksmq``, ``natsmq · nats-server`` → ``natsmq``)."""
    return str(label).split(" ")[0].split("-")[0]


def of(label) -> MQ | None:
    """The MQ a label names by its first word (:func:`word`), if any."""
    return MQ(word(label)) if word(label) in MQ._value2member_map_ else None


def order(label) -> int:
    """The registry's position of a label's MQ (baselines, legends, colours); any other name after every MQ."""
    mq = of(label)
    return list(SPECS).index(mq) if mq else len(SPECS)
