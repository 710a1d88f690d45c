"""Every error mqbench raises on purpose, in one hierarchy.

:class:`MqbenchError` is a user-facing failure with a one-line message naming the culprit: the
command line prints it as ``mqbench: error: …`` and exits 2. Anything else is a bug and keeps its
traceback. The classes that describe bad input also derive from :class:`ValueError`.
"""
from __future__ import annotations


class MqbenchError(Exception):
    """A failure the user can act on; its message is one line that names the culprit."""


class ParameterError(MqbenchError, ValueError):
    """A notebook parameter, a grid or a command-line argument that cannot be used."""


class GridError(ParameterError):
    """A grid or parameter set that names something that does not exist."""


class OverrideError(ParameterError):
    """A ``milvus.yaml`` override that is not of the form ``a.b.c=value``."""


class FormatError(ParameterError):
    """A dataset file or folder that does not hold what its format promises."""


class RunDirError(MqbenchError):
    """A run folder that should not exist does, or one that should does not."""


class ServerError(MqbenchError):
    """A server could not be configured, started, verified or stopped, or died."""


class PortLostError(ServerError):
    """A starting server found a port it was given held by another process (its start is retried)."""


class ClientError(MqbenchError):
    """The installed pymilvus lacks what mqbench's client adapter relies on."""


class IngestError(MqbenchError):
    """The collection and the data do not fit together, or a load phase failed."""


class StorageError(MqbenchError):
    """Not enough disk or memory for a phase, or an MQ store over the limit it was given."""


class MigrationError(MqbenchError):
    """A migration that cannot start, whose restart failed, or that verified nothing."""


class PubSubError(MqbenchError):
    """A pub/sub op that could not run or did not deliver every message."""


class ContractError(Exception):
    """A row with a column that is neither registered (``mqbench.core.schema.COLUMNS``) nor a declared parameter
    of its notebook: a bug in the notebook or study that wrote it, so not a :class:`MqbenchError`."""
