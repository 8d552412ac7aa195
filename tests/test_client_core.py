"""The client's HTTP core over real loopback HTTP: envelopes, errors, retries, write safety."""

from __future__ import annotations

import logging
import time
import uuid
import warnings

import pytest
from test_client_httpd import Reply, ScriptedServer, err, ok

from workbench.client import SkyPortalClient
from workbench.errors import (
    AuthError,
    BadRequest,
    ConnectionFailed,
    InvalidResponse,
    NotFound,
    RateLimited,
    ServerError,
    WorkbenchError,
)

TOKEN = "5b7e0c8a-1f2d-4c3e-9a8b-7c6d5e4f3a2b"  # made up for the tests, not a real token


@pytest.fixture
def srv():
    with ScriptedServer() as server:
        yield server


def make(srv: ScriptedServer, **kw) -> SkyPortalClient:
    options = {"rate_limit": None, "backoff": 0.001, "max_backoff": 0.01, "max_retries": 2, **kw}
    return SkyPortalClient(srv.url, token=TOKEN, **options)


# -- envelope and error mapping --------------------------------------------------


def test_success_returns_data_and_sends_token_header(srv):
    srv.script("GET", "/api/sysinfo", ok({"version": "x"}))
    client = make(srv)
    assert client.get("/api/sysinfo") == {"version": "x"}
    headers = srv.seen[0].headers
    assert headers["Authorization"] == f"token {TOKEN}"
    assert headers["User-Agent"].startswith("skyportal-workbench/")


@pytest.mark.parametrize(
    ("reply", "cls", "text"),
    [
        (err(401, "HTTP 401: Unauthorized"), AuthError, "HTTP 401: Unauthorized"),
        (err(403, "Insufficient permissions"), AuthError, "Insufficient permissions"),
        (err(404, "Source not found"), NotFound, "Source not found"),
        (err(400, "Invalid ID"), NotFound, "Invalid ID"),
        (err(400, "Invalid API endpoint"), NotFound, "Invalid API endpoint"),
        (err(400, "Invalid numPerPage value."), BadRequest, "Invalid numPerPage value."),
        (err(500, "boom"), ServerError, "boom"),
        (Reply(200, {"status": "error", "message": "odd"}), BadRequest, "odd"),
    ],
)
def test_refusals_map_to_the_error_tree_with_the_servers_message(srv, reply, cls, text):
    srv.script("GET", "/api/thing", reply)
    with pytest.raises(cls) as info:
        make(srv).get("/api/thing", {"a": 1})
    assert info.value.message.startswith(text)
    assert info.value.url.endswith("/api/thing?a=1")
    assert info.value.status == (reply.status if reply.status >= 400 else 400)
    assert info.value.outcome_unknown is False


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (
            Reply(200, "<html><body>Captive portal</body></html>", {"Content-Type": "text/html"}),
            "HTML page",
        ),
        (
            Reply(200, '{"status": "success", "data": [1, 2', {"Content-Type": "application/json"}),
            "not valid JSON",
        ),
        (
            Reply(200, {"hello": "world"}, {"Content-Type": "application/json"}),
            "not SkyPortal's envelope",
        ),
        (Reply(200, b"", {"Content-Type": "application/json"}), "empty body"),
    ],
)
def test_bodies_that_are_not_the_envelope_raise_invalid_response(srv, reply, words):
    srv.script("GET", "/api/sources", reply)
    client = make(srv)
    with pytest.raises(InvalidResponse, match=words):
        client.get("/api/sources")
    # an HTML page or another JSON is not retried (a wrong URL stays wrong); a truncated
    # or empty body is read again, up to max_retries (2) times
    transient = words in ("not valid JSON", "empty body")
    assert srv.count("GET", "/api/sources") == (3 if transient else 1)


def test_a_truncated_page_is_read_again(srv):
    cut = Reply(200, '{"status": "success", "data": [1, 2', {"Content-Type": "application/json"})
    srv.script("GET", "/api/sources", cut, ok([1, 2, 3]))
    client = make(srv)
    assert client.get("/api/sources") == [1, 2, 3]
    assert srv.count("GET", "/api/sources") == 2 and client.stats.snapshot()["retries"] == 1


def test_a_write_answered_with_a_truncated_body_is_not_repeated(srv):
    cut = Reply(200, '{"status": "success", "da', {"Content-Type": "application/json"})
    srv.script("POST", "/api/classification", cut, ok({"id": 1}))
    with pytest.raises(InvalidResponse):
        make(srv).post("/api/classification", {"obj_id": "a"})
    assert srv.count("POST", "/api/classification") == 1


def test_nan_in_a_body_is_read_like_python_writes_it(srv):
    srv.script("GET", "/api/x", Reply(200, b'{"status": "success", "data": {"mag": NaN}}'))
    value = make(srv).get("/api/x")["mag"]
    assert value != value  # NaN


def test_html_502_from_a_proxy_is_retried_then_a_server_error(srv):
    page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    srv.script("GET", "/api/sources", Reply(502, page, {"Content-Type": "text/html"}))
    with pytest.raises(ServerError) as info:
        make(srv).get("/api/sources")
    assert info.value.status == 502
    assert "HTML page" in info.value.message
    assert srv.count("GET", "/api/sources") == 3  # 1 + max_retries


# -- retries of reads ------------------------------------------------------------


def test_429_and_503_are_retried_and_counted(srv):
    srv.script("GET", "/api/x", err(429, "slow down"), err(503, "busy"), ok([1]))
    client = make(srv)
    assert client.get("/api/x") == [1]
    stats = client.stats.snapshot()
    assert stats["requests"] == 3
    assert stats["retries"] == 2
    assert stats["rate_limited"] == 1
    assert stats["errors"] == 0


def test_persistent_429_raises_rate_limited_after_the_budget(srv):
    srv.script("GET", "/api/x", err(429, "Too Many Requests"))
    client = make(srv, max_retries=3)
    with pytest.raises(RateLimited, match="Too Many Requests"):
        client.get("/api/x")
    assert srv.count("GET", "/api/x") == 4
    assert client.stats.snapshot()["errors"] == 1


def test_a_read_answered_500_is_retried_a_bounded_number_of_times(srv):
    srv.script("GET", "/api/x", err(500, "Internal error"), ok(5))
    assert make(srv).get("/api/x") == 5
    assert srv.count("GET", "/api/x") == 2
    srv.script("GET", "/api/y", *[err(500, "Internal error")] * 5)
    with pytest.raises(ServerError, match="Internal error"):
        make(srv).get("/api/y")
    assert srv.count("GET", "/api/y") == 3  # max_retries=2


def test_retry_after_seconds_is_honoured(srv):
    srv.script("GET", "/api/x", Reply(429, "", {"Retry-After": "1"}), ok(7))
    client = make(srv)
    started = time.monotonic()
    assert client.get("/api/x") == 7
    assert time.monotonic() - started >= 0.95
    assert client.stats.snapshot()["backoff_seconds"] >= 1.0


def test_retry_after_beyond_the_limit_fails_at_once(srv):
    srv.script("GET", "/api/x", Reply(503, "", {"Retry-After": "3600"}), ok())
    with pytest.raises(ServerError):
        make(srv).get("/api/x")
    assert srv.count("GET", "/api/x") == 1


def test_dropped_connection_and_truncated_body_are_retried_for_reads(srv):
    body = {"status": "success", "data": list(range(1000))}
    srv.script("GET", "/api/x", Reply(drop=True), Reply(200, body, truncate=True), ok([1, 2]))
    client = make(srv)
    assert client.get("/api/x") == [1, 2]
    assert srv.count("GET", "/api/x") == 3


def test_read_timeout_on_a_slow_server_is_retried_then_connection_failed(srv):
    srv.script("GET", "/api/slow", Reply(200, {"status": "success", "data": 1}, delay=0.6))
    client = make(srv, timeout=(2, 0.2), max_retries=1)
    with pytest.raises(ConnectionFailed, match="timed out") as info:
        client.get("/api/slow")
    assert info.value.outcome_unknown is False
    assert srv.count("GET", "/api/slow") == 2
    # a longer per-call timeout lets it through
    assert client.get("/api/slow", timeout=3) == 1


def test_server_down_is_connection_failed_with_advice():
    with ScriptedServer() as gone:
        url = gone.url
    client = SkyPortalClient(url, token=TOKEN, rate_limit=None, backoff=0.001, max_retries=2)
    with pytest.raises(ConnectionFailed, match="connection refused") as info:
        client.get("/api/sysinfo")
    assert "is the server up" in info.value.message
    assert client.stats.snapshot()["requests"] == 3


# -- writes are never retried blindly ------------------------------------------------


def test_post_dropped_after_sending_is_outcome_unknown_and_sent_once(srv):
    srv.script("POST", "/api/classification", Reply(drop=True), ok({"classification_id": 5}))
    client = make(srv)
    with pytest.raises(ConnectionFailed) as info:
        client.post("/api/classification", {"obj_id": "a"})
    assert info.value.outcome_unknown is True
    assert "may or may not have applied" in info.value.message
    assert srv.count("POST", "/api/classification") == 1


def test_post_read_timeout_is_outcome_unknown(srv):
    srv.script(
        "PUT", "/api/classification/3", Reply(200, {"status": "success", "data": {}}, delay=0.5)
    )
    client = make(srv, timeout=(2, 0.15))
    with pytest.raises(ConnectionFailed) as info:
        client.put("/api/classification/3", {"probability": 1})
    assert info.value.outcome_unknown is True
    assert srv.count("PUT", "/api/classification/3") == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_write_answered_5xx_is_not_retried_and_outcome_unknown(srv, status):
    srv.script("POST", "/api/source_groups", err(status, "upstream trouble"), ok())
    with pytest.raises(ServerError) as info:
        make(srv).post("/api/source_groups", {"objId": "x", "inviteGroupIds": [1]})
    assert info.value.outcome_unknown is True
    assert srv.count("POST", "/api/source_groups") == 1


def test_write_answered_429_is_retried_because_it_was_not_processed(srv):
    srv.script("DELETE", "/api/classification/9", err(429, "limit"), ok())
    client = make(srv)
    assert client.delete("/api/classification/9") == {}
    assert srv.count("DELETE", "/api/classification/9") == 2


def test_write_to_a_refused_connection_is_retried_and_not_unknown():
    with ScriptedServer() as gone:
        url = gone.url
    client = SkyPortalClient(url, token=TOKEN, rate_limit=None, backoff=0.001, max_retries=2)
    with pytest.raises(ConnectionFailed) as info:
        client.post("/api/classification", {"obj_id": "a"})
    assert info.value.outcome_unknown is False
    assert client.stats.snapshot()["requests"] == 3


def test_write_4xx_is_refused_with_known_outcome(srv):
    srv.script(
        "POST", "/api/classification", err(400, "Error posting classification: 'taxonomy_id'")
    )
    with pytest.raises(BadRequest, match="taxonomy_id") as info:
        make(srv).post("/api/classification", {"obj_id": "a"})
    assert info.value.outcome_unknown is False


# -- binary endpoints, HEAD, downloads -----------------------------------------------


def test_head_is_true_false_or_raises(srv):
    srv.script("HEAD", "/api/candidates/yes", Reply(200))
    srv.script("HEAD", "/api/candidates/no", Reply(404))
    srv.script("HEAD", "/api/candidates/auth", Reply(401))
    client = make(srv)
    assert client.head("/api/candidates/yes") is True
    assert client.head("/api/candidates/no") is False
    with pytest.raises(AuthError):
        client.head("/api/candidates/auth")


def test_get_bytes_returns_bytes_and_raises_on_an_error_envelope(srv):
    pdf = b"%PDF-1.4 fake" + bytes(range(256))
    srv.script("GET", "/api/sources/a/finder", Reply(200, pdf, {"Content-Type": "application/pdf"}))
    srv.script("GET", "/api/sources/b/finder", err(400, "Could not generate finding chart"))
    client = make(srv)
    assert client.get_bytes("/api/sources/a/finder") == pdf
    with pytest.raises(BadRequest, match="finding chart"):
        client.get_bytes("/api/sources/b/finder")


def test_download_writes_atomically_and_names_files_safely(srv, tmp_path):
    fits = b"SIMPLE  =                    T" + b"\0" * 4000
    headers = {
        "Content-Type": "application/octet-stream",
        "Content-Disposition": 'attachment; filename="../../evil.fits"',
    }
    srv.script("GET", "/api/localization/d/name/m/download", Reply(200, fits, headers))
    client = make(srv)
    written = client.download("/api/localization/d/name/m/download", tmp_path)
    assert written == tmp_path / "evil.fits"
    assert written.read_bytes() == fits
    explicit = client.download("/api/localization/d/name/m/download", tmp_path / "sub" / "map.fits")
    assert explicit.read_bytes() == fits
    assert client.stats.snapshot()["bytes_received"] == 2 * len(fits)


def test_failed_download_leaves_no_file(srv, tmp_path):
    srv.script("GET", "/api/big", Reply(200, b"x" * 100_000, truncate=True))
    client = make(srv, max_retries=1)
    with pytest.raises(ConnectionFailed):
        client.download("/api/big", tmp_path / "big.bin")
    assert list(tmp_path.iterdir()) == []


# -- requests as sent -------------------------------------------------------------------


def test_params_are_encoded_as_skyportal_reads_them(srv):
    srv.script("GET", "/api/sources", ok([]))
    make(srv).get(
        "/api/sources", {"includeComments": True, "group_ids": [1, 2], "skip": None, "n": 5}
    )
    assert srv.seen[0].query == {"includeComments": ["true"], "group_ids": ["1,2"], "n": ["5"]}


def test_json_body_accepts_numpy_and_turns_nan_into_null(srv):
    np = pytest.importorskip("numpy")
    srv.script("POST", "/api/spectra", ok({"id": 3}))
    make(srv).post("/api/spectra", {"fluxes": np.array([1.0, np.nan]), "n": np.int64(2)})
    assert srv.seen[0].body == b'{"fluxes":[1.0,null],"n":2}'
    assert srv.seen[0].headers["Content-Type"] == "application/json"


def test_a_full_url_is_refused_so_the_token_never_leaves(srv):
    with pytest.raises(BadRequest, match="full URL"):
        make(srv).get("http://elsewhere.example/api/sources")
    assert srv.seen == []


def test_bad_timeout_is_a_config_error(srv):
    with pytest.raises(WorkbenchError, match="timeout"):
        make(srv, timeout=0)


# -- the token stays secret --------------------------------------------------------------


def test_token_never_in_repr_errors_or_logs(srv, caplog):
    srv.script("GET", "/api/echo", err(400, f"bad token {TOKEN} given"))
    client = make(srv)
    assert TOKEN not in repr(client)
    assert "token='***'" in repr(client)
    assert TOKEN not in repr(client.settings)
    caplog.set_level(logging.DEBUG, logger="workbench.client")
    with pytest.raises(BadRequest) as info:
        client.get("/api/echo", {"token": TOKEN})
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("workbench"))
    for text in (str(info.value), repr(info.value), info.value.url, ours):
        assert TOKEN not in text
    assert "GET" in ours and "/api/echo" in ours
    assert "Authorization" not in ours


def test_plain_http_to_a_remote_host_warns_once():
    host = f"http://skyportal-{uuid.uuid4().hex[:8]}.invalid"  # warned once per process
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SkyPortalClient(host, token=TOKEN)
        SkyPortalClient(host, token=TOKEN)
        SkyPortalClient("http://127.0.0.1:9", token=TOKEN)
        SkyPortalClient("https://skyportal2.invalid", token=TOKEN)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1
    assert "unencrypted" in messages[0] and TOKEN not in messages[0]
