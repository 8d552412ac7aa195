"""A scripted HTTP server on 127.0.0.1 for the client's tests, and its own checks.

``ScriptedServer`` runs Tornado in a background thread. Each (method, path) has a list
of :class:`Reply` objects answered in turn (the last one repeats); every request is
recorded (method, path, query, headers, body) so tests can count what reached the
server. Replies can be slow, drop the connection, or truncate their body. The
captures test reuses :func:`serve_in_thread` for its replay server.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
import tornado.httpserver
import tornado.netutil
import tornado.web


@dataclass
class Reply:
    """One scripted answer: a status, a body (dict -> JSON), headers, and misbehaviour."""

    status: int = 200
    body: bytes | dict | list | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    drop: bool = False  # close the connection without answering
    truncate: bool = False  # announce the full length, send half, close

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


def ok(data: Any = None, **extra: Any) -> Reply:
    """A SkyPortal success envelope."""
    return Reply(200, {"status": "success", "data": {} if data is None else data, "version": "1.4.0", **extra},
                 {"Content-Type": "application/json"})  # fmt: skip


def err(status: int, message: str) -> Reply:
    """A SkyPortal error envelope."""
    return Reply(status, {"status": "error", "message": message, "data": {}, "version": "1.4.0"},
                 {"Content-Type": "application/json; charset=UTF-8"})  # fmt: skip


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


def serve_in_thread(app: tornado.web.Application) -> tuple[int, Callable[[], None]]:
    """Run ``app`` on a free loopback port in a daemon thread; return (port, stop)."""
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
    port = sockets[0].getsockname()[1]
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets(sockets)
        state["loop"], state["stop"] = asyncio.get_running_loop(), asyncio.Event()
        ready.set()
        await state["stop"].wait()
        server.stop()
        await server.close_all_connections()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    ready.wait(10)

    def stop() -> None:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(10)

    return port, stop


class _Handler(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

    def initialize(self, owner: ScriptedServer) -> None:
        self.owner = owner

    async def _serve(self) -> None:
        req = self.request
        query = {k: [v.decode() for v in vs] for k, vs in req.query_arguments.items()}
        seen = Seen(req.method, req.path, query, dict(req.headers), req.body)
        self.owner.record(seen)
        reply = self.owner.next_reply(seen)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.drop:
            self.request.connection.stream.close()
            return
        body = reply.payload()
        self.set_status(reply.status)
        for key, value in reply.headers.items():
            self.set_header(key, value)
        if reply.truncate:  # raw bytes: Tornado itself would refuse a short body
            head = f"HTTP/1.1 {reply.status} OK\r\nContent-Length: {len(body)}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items()) + "\r\n"
            stream = self.request.connection.detach()
            await stream.write(head.encode() + body[: len(body) // 2])
            stream.close()
            return
        if req.method != "HEAD":
            self.write(body)
        else:
            self.set_header("Content-Length", "0")

    get = head = post = put = patch = delete = _serve


class ScriptedServer:
    """A loopback server answering scripted replies and recording every request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seen: list[Seen] = []
        self._routes: dict[tuple[str, str], list[Reply]] = {}
        self._dynamic: dict[tuple[str, str], Callable[[Seen], Reply]] = {}
        self.fallback: Callable[[Seen], Reply] | None = None  # for unscripted routes
        app = tornado.web.Application([(r"/.*", _Handler, {"owner": self})])
        self.port, self._stop = serve_in_thread(app)
        self.url = f"http://127.0.0.1:{self.port}"

    def script(self, method: str, path: str, *replies: Reply) -> None:
        """Answer ``method path`` with ``replies`` in turn; the last one repeats."""
        with self._lock:
            self._routes[(method.upper(), path)] = list(replies)

    def route(self, method: str, path: str, answer: Callable[[Seen], Reply]) -> None:
        """Answer ``method path`` with ``answer(request)`` (e.g. by its query)."""
        with self._lock:
            self._dynamic[(method.upper(), path)] = answer

    def next_reply(self, seen: Seen) -> Reply:
        method, path = seen.method, seen.path
        with self._lock:
            dynamic = self._dynamic.get((method, path))
        if dynamic is not None:
            return dynamic(seen)
        with self._lock:
            replies = self._routes.get((method, path))
            if not replies:
                if self.fallback is not None:
                    return self.fallback(seen)
                return err(404, f"no script for {method} {path}")
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def count(self, method: str, path: str) -> int:
        """How many ``method path`` requests reached the server."""
        with self._lock:
            return sum(1 for s in self.seen if s.method == method and s.path == path)

    def close(self) -> None:
        self._stop()

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def test_scripted_server_answers_in_turn_and_records() -> None:
    with ScriptedServer() as srv:
        srv.script("GET", "/api/x", err(503, "busy"), ok({"n": 1}))
        first = requests.get(srv.url + "/api/x?a=1", timeout=5)
        second = requests.get(srv.url + "/api/x", timeout=5)
        third = requests.get(srv.url + "/api/x", timeout=5)
        assert [first.status_code, second.status_code, third.status_code] == [503, 200, 200]
        assert second.json()["data"] == {"n": 1}
        assert srv.count("GET", "/api/x") == 3
        assert srv.seen[0].query == {"a": ["1"]}


def test_scripted_server_drops_and_truncates() -> None:
    with ScriptedServer() as srv:
        srv.script("GET", "/drop", Reply(drop=True))
        srv.script(
            "GET",
            "/cut",
            Reply(200, {"status": "success", "data": list(range(500))}, truncate=True),
        )
        try:
            requests.get(srv.url + "/drop", timeout=5)
        except requests.ConnectionError:
            pass
        else:  # pragma: no cover
            raise AssertionError("the dropped connection did not fail")
        try:
            requests.get(srv.url + "/cut", timeout=5).json()
        except (requests.exceptions.ChunkedEncodingError, requests.ConnectionError):
            pass
        else:  # pragma: no cover
            raise AssertionError("the truncated body was read whole")
