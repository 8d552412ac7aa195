"""`workbench demo` as a real process: a signal stops everything it started, and a taken
JupyterLab port is replaced by a free one whose URL is printed (and nothing is sent to the
program holding the taken port)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
import requests

pytestmark = pytest.mark.slow
EMPTY_CONFIG_HOME = Path(tempfile.mkdtemp(prefix="wb-config-"))


def start_demo(*args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKYPORTAL_", "WORKBENCH_"))}
    env["XDG_CONFIG_HOME"] = str(EMPTY_CONFIG_HOME)
    return subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "demo", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def read_until(proc: subprocess.Popen, marker: str) -> str:
    """Lines of the demo's output up to and including the first holding ``marker``."""
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"the demo ended before printing {marker!r}:\n" + "".join(seen)[-3000:])


def refuses(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def stop_and_check(proc: subprocess.Popen, signum: int, children: list[psutil.Process]) -> None:
    proc.send_signal(signum)
    proc.wait(120)
    proc.stdout.close()
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"left running after {signal.Signals(signum).name}: {alive}"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_demo_server(tmp_path, signum):
    from workbench.server import free_port

    port = free_port()
    demo = start_demo(
        "--no-lab", "--port", str(port), "--sources", "300", "--candidates", "40",
        "--cache", str(tmp_path / "demo.duckdb"),
    )  # fmt: skip
    try:
        read_until(demo, "local SkyPortal at")
        children = psutil.Process(demo.pid).children(recursive=True)
        assert children, "the demo's server runs in a child process"
        stop_and_check(demo, signum, children)
        # interrupted (130) or, had the sync already finished, done (0): never a traceback
        assert demo.returncode in (0, 130)
        assert refuses(port)
    finally:
        if demo.poll() is None:
            demo.kill()


def test_demo_with_lab_on_a_taken_port_then_sigterm(tmp_path):
    pytest.importorskip("jupyterlab")
    from workbench.server import free_port

    with socket.socket() as holder:  # a program that holds the JupyterLab port
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        port = free_port()
        demo = start_demo(
            "--port", str(port), "--lab-port", str(taken), "--sources", "20",
            "--candidates", "5", "--cache", str(tmp_path / "demo.duckdb"),
        )  # fmt: skip
        try:
            output = read_until(demo, "demo: JupyterLab at")
            assert f"port {taken} is taken" in output
            url = re.search(
                r"demo: JupyterLab at (http://127\.0\.0\.1:(\d+)/lab\?token=\w+)", output
            )
            lab_port = int(url.group(2))
            assert lab_port != taken
            # the printed URL is JupyterLab's, and its token opens it
            token = url.group(1).rpartition("=")[2]
            reply = requests.get(
                f"http://127.0.0.1:{lab_port}/api/status", params={"token": token}, timeout=30
            )
            assert reply.status_code == 200 and "started" in reply.json()
            holder.setblocking(False)
            with pytest.raises(BlockingIOError):
                holder.accept()  # nobody connected to the taken port, so no token went there
            children = psutil.Process(demo.pid).children(recursive=True)
            assert len(children) >= 2  # the server and JupyterLab
            stop_and_check(demo, signal.SIGTERM, children)
            assert demo.returncode == 0
            assert refuses(port) and refuses(lab_port)
        finally:
            if demo.poll() is None:
                demo.kill()
