"""``workbench demo``: the local server, a synced cache, and JupyterLab on the notebooks.

The sync is scanner first: JupyterLab opens once the candidates (with their photometry
and cutouts) are in, while saved sources, their photometry, spectra and the rest keep
syncing in the background (the terminal says when that is done).

The server runs in a child process (so the sync and JupyterLab talk to it over real HTTP,
as they would to Fritz); its made-up token travels only through environment variables
(to the server, then to JupyterLab as ``SKYPORTAL_URL``/``SKYPORTAL_TOKEN``/
``WORKBENCH_CACHE``): never on a command line, never printed.

Stopping: Ctrl-C, SIGTERM or SIGHUP to ``workbench demo`` stops JupyterLab (started in its
own session, so it is stopped by us, cleanly, and its kernels with it) and then the server.
A port that is taken is replaced by a free one, and the JupyterLab URL is printed only once
JupyterLab itself answers on it, so the token never goes to whatever else holds a port.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    with _stop_signals() as signals:
        port = _port_or_free(args.port, "the local server")
        # a signal while the server seeds is held until spawn returns: interrupting the spawn
        # would leave its child process running with nobody to stop it
        signals.deferring = True
        server = _spawn_server(args, port)
        with server:
            signals.deferring = False
            if signals.received:
                raise KeyboardInterrupt
            env = {
                **os.environ,
                "SKYPORTAL_URL": server.url,
                "SKYPORTAL_TOKEN": server.token,
                "WORKBENCH_CACHE": args.cache,
            }
            print(
                f"demo: local SkyPortal at {server.url} "
                f"({args.sources} sources, {args.candidates} candidates)",
                flush=True,
            )
            background = _sync(server.url, server.token, args.cache)
            if args.no_lab:
                _finish(background)
                return 0
            # JupyterLab opens while the rest syncs; a kernel's wb.sync() waits its turn
            # on the cache's lock, and a demo stopped meanwhile resumes at the next run
            _report_when_done(background)
            return _run_lab(args, env)


def _spawn_server(args: argparse.Namespace, port: int):
    from ..server import spawn_server_process

    try:
        return spawn_server_process(
            sources=args.sources,
            candidates=args.candidates,
            seed=args.seed,
            port=port,
            timeout=300,
        )
    except WorkbenchError as exc:
        raise WorkbenchError(f"the demo server did not start on port {port}: {exc}") from exc


class _Signals:
    """SIGINT/SIGTERM/SIGHUP as ``KeyboardInterrupt`` (so every ``with`` block unwinds and
    stops what it started), or only remembered while ``deferring``."""

    def __init__(self) -> None:
        self.deferring = False
        self.received: int | None = None

    def __call__(self, signum: int, frame: object) -> None:
        first = self.received is None
        self.received = signum
        # only the first signal interrupts: a second Ctrl-C must not cut the clean-up short
        # (stopping JupyterLab and the server takes at most ~20 s)
        if first and not self.deferring:
            raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def _stop_signals() -> Iterator[_Signals]:
    handler = _Signals()
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    wanted = [getattr(signal, n) for n in names if hasattr(signal, n)]
    previous = {sig: signal.signal(sig, handler) for sig in wanted}
    try:
        yield handler
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _port_or_free(port: int, what: str) -> int:
    """``port`` if nothing listens on 127.0.0.1:port, else a free port (said on stdout)."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            pass
    from ..server import free_port

    other = free_port()
    print(f"demo: port {port} is taken; {what} uses port {other}", flush=True)
    return other


def _sync(url: str, token: str, cache: str) -> Any:
    """Scanner first: the candidates (with photometry and cutouts) now; returns the
    background sync of the rest (or ``None`` when nothing is left)."""
    from ..facade import Workbench

    # (the Cache makes the cache's folder, or says clearly why it cannot)
    # the demo's own server is on loopback with no rate limit: no need to pace the client
    wb = Workbench.open(url=url, token=token, cache=cache, rate_limit=None)
    summary = wb.sync(background=True)
    print(summary, flush=True)
    return summary.background


def _finish(background: Any) -> None:
    """Wait for the background sync and print what it did."""
    if background is not None:
        print(background.wait(), flush=True)


def _report_when_done(background: Any) -> None:
    """Say on the terminal when the background sync has finished (or why it stopped)."""
    if background is None:
        return

    def report() -> None:
        try:
            summary = background.wait()
        except Exception as exc:  # shown, not raised: JupyterLab keeps running
            print(f"demo: the background sync stopped: {exc}; run `workbench sync`", flush=True)
            return
        print(f"demo: background sync finished\n{summary}", flush=True)

    threading.Thread(target=report, name="demo-sync-report", daemon=True).start()


def _die_with_parent_hook():
    """Linux: a ``preexec_fn`` so JupyterLab gets SIGTERM if the demo dies without cleaning
    up (``kill -9``); ``None`` elsewhere. libc is looked up here, before the fork: the child
    may only call it (an import after a fork can deadlock when threads ran)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig, sigterm = 1, int(signal.SIGTERM)
    return lambda: prctl(pr_set_pdeathsig, sigterm)


def _run_lab(args: argparse.Namespace, env: dict[str, str]) -> int:
    port = _port_or_free(args.lab_port, "JupyterLab")
    lab_token = secrets.token_hex(16)
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
        f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={lab_token}",
        f"--ServerApp.root_dir={REPO / 'notebooks'}",
    ]  # fmt: skip
    # port_retries=0: JupyterLab takes exactly this port or fails, so the URL below is right
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI machines run as root
    lab = subprocess.Popen(
        command,
        env=env,
        start_new_session=True,  # Ctrl-C reaches only the demo, which stops lab in order
        preexec_fn=_die_with_parent_hook(),
    )
    try:
        if not _wait_for_lab(lab, port):
            return _lab_failed(lab, port)
        print(
            f"demo: JupyterLab at http://127.0.0.1:{port}/lab?token={lab_token}\n"
            "demo: open notebooks/01_getting_started.ipynb; Ctrl-C stops JupyterLab and the "
            "server",
            flush=True,
        )
        return lab.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        _stop_lab(lab)


def _wait_for_lab(lab: subprocess.Popen, port: int, timeout: float = 300.0) -> bool:
    """True once JupyterLab answers its (token-free) ``/api`` on ``port``; False if it exited."""
    deadline = time.monotonic() + timeout
    while lab.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2) as reply:
                if "version" in json.loads(reply.read()):
                    return lab.poll() is None
        except (OSError, ValueError):
            time.sleep(0.2)
    return False


def _lab_failed(lab: subprocess.Popen, port: int) -> int:
    code = lab.poll()
    raise WorkbenchError(
        f"JupyterLab did not start on port {port} (exit code {code}); see its messages above, "
        "or pick another port with --lab-port"
    )


def _stop_lab(lab: subprocess.Popen) -> None:
    """SIGTERM (JupyterLab then shuts its kernels down), SIGKILL to its group after 10 s."""
    if lab.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            lab.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            lab.wait(10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(lab.pid, signal.SIGKILL)  # kernels left behind, if any
    with contextlib.suppress(subprocess.TimeoutExpired):
        lab.wait(5)
