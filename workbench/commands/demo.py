"""``workbench demo``: the local server, a synced cache, and JupyterLab on the notebooks.

The server runs in a child process (so the sync and JupyterLab talk to it over real HTTP,
as they would to Fritz); its made-up token travels only through environment variables
(to the server, then to JupyterLab as ``SKYPORTAL_URL``/``SKYPORTAL_TOKEN``/
``WORKBENCH_CACHE``): never on a command line, never printed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from pathlib import Path

from ..errors import WorkbenchError

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
    from ..server import spawn_server_process

    try:
        server = spawn_server_process(
            sources=args.sources,
            candidates=args.candidates,
            seed=args.seed,
            port=args.port,
            timeout=300,
        )
    except WorkbenchError as exc:
        raise WorkbenchError(f"the demo server did not start on port {args.port}: {exc}") from exc
    with server:
        env = {
            **os.environ,
            "SKYPORTAL_URL": server.url,
            "SKYPORTAL_TOKEN": server.token,
            "WORKBENCH_CACHE": args.cache,
        }
        print(
            f"demo: local SkyPortal at {server.url} ({args.sources} sources, {args.candidates} candidates)"
        )
        _sync(server.url, server.token, args.cache)
        if args.no_lab:
            return 0
        return _run_lab(args, env)


def _sync(url: str, token: str, cache: str) -> None:
    from ..facade import Workbench

    Path(cache).parent.mkdir(parents=True, exist_ok=True)
    # the demo's own server is on loopback with no rate limit: no need to pace the client
    summary = Workbench.open(url=url, token=token, cache=cache, rate_limit=None).sync()
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
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI machines run as root
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 0
