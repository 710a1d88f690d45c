"""`mqbench server --mq natsmq` serves until Ctrl-C, then stops its Milvus."""
import re
import signal
import subprocess
import sys

import psutil
from pymilvus import MilvusClient


def test_server_command_prints_uri_and_stops_on_ctrl_c(tmp_path, live_pids):
    before = live_pids()
    proc = subprocess.Popen([sys.executable, "-m", "mqbench.cli", "server", "--mq", "natsmq", "--dir",
                             str(tmp_path / "srv")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = "".join(proc.stdout.readline() for _ in range(4))
        uri = re.search(r'uri = "(http://127\.0\.0\.1:\d+)"', banner).group(1)
        token = re.search(r"MQBENCH_TOKEN='([^']+)'", banner).group(1)
        assert MilvusClient(uri=uri, token=token).list_collections() == []
        (server_pid,) = live_pids() - before
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        assert "stopped (terminated)" in proc.stderr.read()
        assert not psutil.pid_exists(server_pid)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert token not in "".join(p.read_text(errors="replace") for p in (tmp_path / "srv").rglob("*") if p.is_file())
