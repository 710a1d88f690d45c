"""The phase probe: what one timed phase cost — wall time, the server's (or a broker's) CPU and peak RSS, the
client's CPU, the MQ store's growth, Milvus's own series as deltas — and whether the server died during it. The
session turns what it finds into a summary row (:meth:`mqbench.run.session.Session.track`)."""
from __future__ import annotations

import subprocess

from mqbench.core.errors import ServerError
from mqbench.measure import milvus_series
from mqbench.measure.resources import Sampler


class Probe:
    """Start it before a phase (:meth:`start`), :meth:`finish` it after, with the phase's failure if any.
    ``server``: the running embedded server the phase asks (None for an external one); ``pid``/``store`` measure
    another process and store than its own; ``scrape`` off skips Milvus's series."""

    def __init__(self, server, op: str, phase: str, pid: int | None = None, store=None, scrape: bool = True):
        self.server, self.op, self.phase = server, op, phase
        self.scrape = scrape and server is not None
        self.sampler = Sampler(pid or (server.pid if server else None),
                               store or (server.mq_store_dirs if server else None),
                               metrics=server.metrics if server else "")  # read when there is no pid
        self.before: dict = {}

    def start(self) -> "Probe":
        self.before = milvus_series.scrape(self.server.metrics) if self.scrape else {}
        self.sampler.start()
        return self

    def finish(self, failure: BaseException | None = None) -> tuple[dict, BaseException | None]:
        """(the phase's measured columns, its failure): a server found dead leads the failure, whatever the
        client saw, so a death is never put down to the request that met it."""
        server = self.server
        if failure is not None and server is not None and server.pid and server.running:
            _settle(server)  # a SIGKILLed server refuses connections before its process is gone
        if server is not None and server.started and not server.running:
            then = f" (the client saw: {type(failure).__name__}: {failure})" if failure else ""
            failure = ServerError(f"milvus ({server.mq}) died during {self.op}/{self.phase} "
                                  f"with exit code {server.proc.returncode}{then}")
        columns = self.sampler.stop().as_row()
        if self.scrape and server.running:
            columns.update(milvus_series.deltas(self.before, milvus_series.scrape(server.metrics), self.op))
        return columns, failure


def _settle(server, timeout_s: float = 3.0) -> None:
    """Give a server that a failed phase may have lost a moment to be seen dead (only after a failure)."""
    try:
        server.proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        pass  # alive: the failure is the client's to explain
