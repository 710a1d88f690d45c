"""`mqbench server --mq natsmq` serves until Ctrl-C, then stops its Milvus."""
import os
import re
import signal

import psutil
from conftest import mqbench, start_mqbench
from pymilvus import MilvusClient


def test_server_command_prints_uri_and_stops_on_ctrl_c(tmp_path, live_pids):
    before = live_pids()
    proc = start_mqbench("server", "--mq", "natsmq", "--dir", str(tmp_path / "srv"))
    try:
        banner = "".join(proc.stdout.readline() for _ in range(4))
        uri = re.search(r'uri = "(http://127\.0\.0\.1:\d+)"', banner).group(1)
        token = re.search(r"MQBENCH_TOKEN='([^']+)'", banner).group(1)
        assert MilvusClient(uri=uri, token=token).list_collections() == []
        (server_pid,) = live_pids() - before
        proc.send_signal(signal.SIGINT)
        # drain both pipes while it stops (a full pipe would block it); a graceful stop may take the whole
        # 30 s grace on a loaded host
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        assert "stopped (terminated)" in err
        assert not psutil.pid_exists(server_pid)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert token not in "".join(p.read_text(errors="replace") for p in (tmp_path / "srv").rglob("*") if p.is_file())


def test_migrate_refuses_a_folder_with_nothing_to_verify(tmp_path, live_pids):
    """A server folder with no collection: migrate exits non-zero with one line, and starts nothing lasting."""
    before = live_pids()
    proc = start_mqbench("server", "--mq", "rocksmq", "--dir", str(tmp_path / "srv"), "-o", "common.session.ttl=10")
    banner = "".join(proc.stdout.readline() for _ in range(4))
    token = re.search(r"MQBENCH_TOKEN='([^']+)'", banner).group(1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)  # drained while it stops; see above
    assert proc.returncode == 0, err[-2000:]
    done = mqbench("migrate", str(tmp_path / "srv"), "--to", "natsmq", timeout=300,
                   env={**os.environ, "MQBENCH_TOKEN": token})
    assert done.returncode == 2, done.stderr[-2000:]
    assert "has no collection: there is nothing to migrate or verify" in done.stderr
    assert live_pids() == before
