"""``workbench serve`` in the foreground: prints how to reach it, serves, stops on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from workbench.server import free_port

REPO = Path(__file__).resolve().parents[1]


def test_serve_prints_url_and_exports_then_stops_on_ctrl_c():
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbench.cli",
            "serve",
            "--port",
            str(port),
            "--sources",
            "12",
            "--candidates",
            "6",
            "--seed",
            "3",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    try:
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in first and "12 sources" in first
        lines = [proc.stdout.readline() for _ in range(4)]
        exports = {
            line.split()[1].split("=")[0]: line.split()[1].split("=", 1)[1]
            for line in lines
            if line.strip().startswith("export")
        }
        assert exports["SKYPORTAL_URL"] == f"http://127.0.0.1:{port}"
        token = exports["SKYPORTAL_TOKEN"]
        r = requests.get(
            f"http://127.0.0.1:{port}/api/sources",
            headers={"Authorization": f"token {token}"},
            timeout=30,
        )
        assert r.json()["data"]["totalMatches"] == 12
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_serve_refuses_a_public_interface_without_the_flag():
    started = time.monotonic()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench.cli",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert out.returncode == 1
    assert "non-loopback" in out.stderr and "--allow-remote" in out.stderr
    assert time.monotonic() - started < 60


def test_serve_rejects_bad_options():
    out = subprocess.run(
        [sys.executable, "-m", "workbench.server", "--sources", "-3"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert out.returncode != 0 and "--sources" in out.stderr


def test_serve_refuses_a_token_that_is_not_uuid_shaped():
    secret = "tok-not-a-uuid"
    out = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "serve", "--token", secret, "--port", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert out.returncode == 1, out.stderr
    assert "--token is not a UUID-shaped token" in out.stderr and "uuid4" in out.stderr
    assert secret not in out.stderr + out.stdout and "Traceback" not in out.stderr
