"""``LocalServer``: the SkyPortal-compatible Tornado server in a background thread.

::

    with LocalServer(sources=200, candidates=50, seed=42) as srv:
        requests.get(f"{srv.url}/api/sources",
                     headers={"Authorization": f"token {srv.token}"})

``spawn_server_process`` runs the same server in a separate process (for kill -9 tests
and two-process tests) and returns once it answers.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import tornado.httpserver

from ..errors import ConfigError
from ..redact import mask_token, register_secret
from .app import make_app
from .behaviour import Behaviour
from .handlers.base import Context
from .stats import Stats
from .store import Store

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class LocalServer:
    """A seeded SkyPortal-compatible server on ``host:port`` (0 picks a free port)."""

    def __init__(
        self,
        *,
        sources: int = 200,
        candidates: int = 50,
        seed: int = 42,
        token: str | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        galaxies: int = 400,
        allow_remote: bool = False,
        **behaviour: Any,
    ) -> None:
        if host not in LOOPBACK and not allow_remote:
            raise ConfigError(
                f"refusing to serve on non-loopback host {host!r}: the local "
                "server has a made-up token and no TLS; pass allow_remote=True "
                "(CLI: --allow-remote) if you really mean it"
            )
        self.token = token or str(uuid.uuid4())
        register_secret(self.token)
        self.host = host
        self.port = int(port)
        self.store = Store(sources=sources, candidates=candidates, seed=seed, galaxies=galaxies)
        self.behaviour = Behaviour().update(**behaviour) if behaviour else Behaviour()
        self.stats = Stats()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: tornado.httpserver.HTTPServer | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"LocalServer(url={self.url!r}, token={mask_token(self.token)}, {state})"

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:5000``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the server thread serves."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header a client needs."""
        return {"Authorization": f"token {self.token}"}

    def start(self) -> LocalServer:
        """Bind the port and serve in a daemon thread; return once it accepts connections."""
        if self.running:
            return self
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"cannot listen on {self.host}:{self.port}: {exc}; choose "
                "another port (0 picks a free one)"
            ) from exc
        from .cosmo import _grid

        _grid()  # build the distance grid now, not inside the first request
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._ready.clear()
        self._thread = threading.Thread(
            target=self._serve, args=(sock,), name=f"workbench-server-{self.port}", daemon=True
        )
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise ConfigError(f"local server failed to start: {self._error}")
        return self

    def _serve(self, sock: socket.socket) -> None:
        async def main() -> None:
            ctx = Context(
                store=self.store, behaviour=self.behaviour, stats=self.stats, token=self.token
            )
            self._server = tornado.httpserver.HTTPServer(
                make_app(ctx), xheaders=False, idle_connection_timeout=60
            )
            self._server.add_sockets([sock])
            self._loop = asyncio.get_running_loop()
            self._stopping = asyncio.Event()
            self._ready.set()
            await self._stopping.wait()
            self._server.stop()
            await asyncio.wait_for(self._server.close_all_connections(), 5)

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced to start() or logged by the thread
            self._error = exc
            self._ready.set()

    def stop(self) -> None:
        """Stop serving and join the thread (idempotent)."""
        if self._loop is not None and self.running:
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """Environment variables that point the workbench at this server."""
        return {"SKYPORTAL_URL": self.url, "SKYPORTAL_TOKEN": self.token}


class ServerProcess:
    """A server running in another process (``python -m workbench.server``)."""

    def __init__(self, proc: subprocess.Popen, url: str, token: str) -> None:
        self.proc = proc
        self.url = url
        self.token = token

    def __repr__(self) -> str:
        return f"ServerProcess(pid={self.proc.pid}, url={self.url!r}, token='***')"

    @property
    def pid(self) -> int:
        """The server process id (for kill -9 tests)."""
        return self.proc.pid

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after 5 s)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_server_process(
    *,
    sources: int = 60,
    candidates: int = 30,
    seed: int = 1,
    token: str | None = None,
    port: int | None = None,
    extra_args: list[str] | None = None,
    timeout: float = 60.0,
) -> ServerProcess:
    """Start ``python -m workbench.server`` in a new process; return when it answers."""
    import requests

    token = token or str(uuid.uuid4())
    register_secret(token)
    port = port or free_port()
    cmd = [
        sys.executable,
        "-m",
        "workbench.server",
        "--port",
        str(port),
        "--sources",
        str(sources),
        "--candidates",
        str(candidates),
        "--seed",
        str(seed),
        "--quiet",
        *(extra_args or []),
    ]
    env = dict(os.environ, WORKBENCH_SERVER_TOKEN=token)
    root = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
            raise ConfigError(f"server process exited with {proc.returncode}: {err}")
        try:
            if requests.get(f"{url}/_workbench/health", timeout=1).ok:
                return ServerProcess(proc, url, token)
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise ConfigError(f"server process did not answer on {url} within {timeout} s")
