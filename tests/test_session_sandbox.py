"""Safe tutorials: a notebook session is a sandbox (its cells may write) only when the server
identifies itself as the project's own local server, never because it is on localhost."""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import tornado.httpserver
import tornado.ioloop
import tornado.web

from widgets.session import NotebookSession, is_local_workbench_server
from workbench import Workbench
from workbench.server import free_port

TOKEN = str(uuid.uuid4())


def session_on(url: str, tmp_path) -> NotebookSession:
    """A session as a notebook opens it from SKYPORTAL_URL: not private, another server."""
    wb = Workbench.open(url, TOKEN, tmp_path / "c.duckdb", rate_limit=None, max_retries=0)
    return NotebookSession(wb)


@contextmanager
def http_server(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        return None


class Answers404(Quiet):
    """What a bare http.server (or any server without /_workbench/) says."""

    def do_GET(self) -> None:
        self.send_error(404)


class AnswersEverythingOk(Quiet):
    """A SkyPortal-like envelope for every path (a proxy, a catch-all): not an identity."""

    def do_GET(self) -> None:
        body = json.dumps({"status": "success", "data": {"ok": True}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.parametrize("handler", [Answers404, AnswersEverythingOk])
def test_another_server_on_loopback_is_not_a_sandbox(tmp_path, handler):
    with http_server(handler) as url:
        session = session_on(url, tmp_path)
        assert not session.private
        assert session.sandbox is False


def test_a_bare_tornado_app_on_loopback_is_not_a_sandbox(tmp_path):
    port = free_port()
    ready = threading.Event()
    loop_box: list[tornado.ioloop.IOLoop] = []

    def serve() -> None:
        import asyncio

        asyncio.set_event_loop(asyncio.new_event_loop())
        app = tornado.web.Application([])  # every path: tornado's own 404
        server = tornado.httpserver.HTTPServer(app)
        server.listen(port, "127.0.0.1")
        loop_box.append(tornado.ioloop.IOLoop.current())
        ready.set()
        loop_box[0].start()
        server.stop()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(30)
    try:
        session = session_on(f"http://localhost:{port}", tmp_path)
        assert session.sandbox is False
    finally:
        loop_box[0].add_callback(loop_box[0].stop)
        thread.join(30)


def test_the_local_server_is_a_sandbox_wherever_it_is_reached(server, tmp_path):
    wb = Workbench.open(server.url, server.token, tmp_path / "c.duckdb", rate_limit=None)
    session = NotebookSession(wb)  # external, as with `make demo`: not private
    assert not session.private and session.sandbox is True
    identity = wb.client.local_server_identity()
    assert identity["ok"] is True and "sizes" in identity


def test_offline_and_unreachable_are_not_a_sandbox(tmp_path):
    offline = Workbench.open(cache=tmp_path / "o.duckdb", offline=True)
    assert is_local_workbench_server(offline) is False
    assert session_on(f"http://127.0.0.1:{free_port()}", tmp_path).sandbox is False


def test_a_private_session_is_a_sandbox(tmp_path, server):
    wb = Workbench.open(cache=tmp_path / "p.duckdb", offline=True)
    assert NotebookSession(wb, server=server).sandbox is True
