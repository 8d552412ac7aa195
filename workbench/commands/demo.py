"""``workbench demo``: the local server, a synced cache, and JupyterLab on the notebooks.

The server runs in a child process (so the sync and JupyterLab talk to it over real HTTP,
as they would to Fritz); its token is generated here and handed to JupyterLab through the
environment (``SKYPORTAL_URL``/``SKYPORTAL_TOKEN``/``WORKBENCH_CACHE``), never printed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=5055, help="local SkyPortal server port")
    parser.add_argument("--sources", type=int, default=2000, help="synthetic sources to seed")
    parser.add_argument("--candidates", type=int, default=300, help="synthetic candidates to seed")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the synthetic sky")
    parser.add_argument(
        "--cache", default=str(REPO / "cache" / "demo.duckdb"), help="the demo's cache file"
    )
    parser.add_argument("--lab-port", type=int, default=8888, help="JupyterLab port")
    parser.add_argument(
        "--no-lab", action="store_true", help="set up server and cache, then stop (no JupyterLab)"
    )


def run(args: argparse.Namespace) -> int:
    token = str(uuid.uuid4())
    url = f"http://127.0.0.1:{args.port}"
    server = _start_server(args, token)
    try:
        _wait_until_up(url, server)
        env = {
            **os.environ,
            "SKYPORTAL_URL": url,
            "SKYPORTAL_TOKEN": token,
            "WORKBENCH_CACHE": args.cache,
        }
        print(
            f"demo: local SkyPortal at {url} ({args.sources} sources, {args.candidates} candidates)"
        )
        _sync(url, token, args.cache)
        if args.no_lab:
            return 0
        return _run_lab(args, env)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _start_server(args: argparse.Namespace, token: str) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "workbench.cli", "serve",
        "--port", str(args.port), "--token", token,
        "--sources", str(args.sources), "--candidates", str(args.candidates), "--seed", str(args.seed),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


def _wait_until_up(url: str, server: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(
                f"demo: the local server exited (code {server.returncode}); is port {url} in use?"
            )
        try:
            if requests.get(f"{url}/api/sysinfo", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"demo: the local server did not answer at {url} within {timeout:.0f} s")


def _sync(url: str, token: str, cache: str) -> None:
    from ..facade import Workbench

    Path(cache).parent.mkdir(parents=True, exist_ok=True)
    summary = Workbench.open(url=url, token=token, cache=cache).sync()
    print(summary)


def _run_lab(args: argparse.Namespace, env: dict[str, str]) -> int:
    lab_token = secrets.token_hex(16)
    print(
        f"demo: JupyterLab at http://127.0.0.1:{args.lab_port}/lab?token={lab_token}\n"
        "demo: open notebooks/01_getting_started.ipynb; Ctrl-C stops JupyterLab and the server"
    )
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
        f"--port={args.lab_port}", f"--IdentityProvider.token={lab_token}",
        f"--ServerApp.root_dir={REPO / 'notebooks'}",
    ]  # fmt: skip
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 0
