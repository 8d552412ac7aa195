"""The local server answers like SkyPortal 1.4.0: envelopes, content types, errors, auth."""

from __future__ import annotations

import json

import requests

ZERO_TOKEN = "00000000-0000-0000-0000-000000000000"


def get(srv, path, **kw):
    headers = kw.pop("headers", srv.headers)
    return requests.get(srv.url + path, headers=headers, timeout=30, **kw)


def test_success_envelope_and_content_type(server):
    r = get(server, "/api/sources", params={"numPerPage": 2})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert "Etag" in r.headers
    body = r.json()
    assert body["status"] == "success" and body["version"] == "1.4.0"
    assert set(body["data"]) == {"sources", "totalMatches", "pageNumber", "numPerPage"}
    assert r.text.startswith('{\n  "status": "success"')  # pretty-printed like the real one


def test_error_envelope_exactly_as_captured(server):
    cases = {
        "/api/doesnotexist": (400, "Invalid API endpoint"),
        "/api/sources/doesnotexist": (404, "Source not found"),
        "/api/candidates/doesnotexist": (400, "Invalid ID"),
        "/api/gcn_event/2000-01-01T00:00:00": (404, "GCN event not found"),
        "/api/sources?numPerPage=abc": (400, "Invalid numPerPage value."),
    }
    for path, (status, message) in cases.items():
        r = get(server, path)
        assert r.status_code == status, path
        assert r.headers["Content-Type"] == "application/json; charset=UTF-8"
        expected = {"status": "error", "message": message, "data": {}, "version": "1.4.0"}
        assert r.text == json.dumps(expected)  # compact, key order as captured


def test_401_messages_as_captured(server):
    malformed = (
        "HTTP 401: Unauthorized (Credentials malformed; expected form "
        '"Authorization: token abc123")'
    )
    cases = [
        ({}, malformed),
        ({"Authorization": f"Bearer {server.token}"}, malformed),
        ({"Authorization": f"token {ZERO_TOKEN}"}, "HTTP 401: Unauthorized"),
        ({"Authorization": "token not-a-uuid"}, "HTTP 401: Unauthorized"),
    ]
    for headers, message in cases:
        r = get(server, "/api/sources", headers=headers)
        assert r.status_code == 401
        assert r.json()["message"] == message
        assert "WWW-Authenticate" not in r.headers


def test_sysinfo_is_public(server):
    for headers in ({}, {"Authorization": f"token {ZERO_TOKEN}"}):
        r = get(server, "/api/sysinfo", headers=headers)
        assert r.status_code == 200
        item = r.json()["data"]["gitlog"][0]
        assert set(item) == {
            "time",
            "sha",
            "email",
            "description",
            "pr_nr",
            "pr_url",
            "commit_url",
            "name",
        }


def test_numperpage_clamped_to_500_and_echoed(make_server):
    srv = make_server(sources=620, candidates=5)
    data = get(srv, "/api/sources", params={"numPerPage": 100000}).json()["data"]
    assert data["numPerPage"] == 500
    assert len(data["sources"]) == 500
    assert data["totalMatches"] == 620


def test_profile_names_the_token_user_and_never_a_token(server):
    r = get(server, "/api/internal/profile")
    profile = r.json()["data"]
    assert profile["id"] == 1 and profile["username"] == "provisioned-admin"
    assert "System admin" in profile["acls"] and profile["tokens"] == []
    assert server.token not in r.text
