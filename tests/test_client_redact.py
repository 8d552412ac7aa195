"""Token redaction as the client relies on it (workbench/redact.py)."""

from __future__ import annotations

from workbench.redact import redact, redact_headers, register_secret


def test_token_shaped_values_are_masked_even_unregistered():
    uuid = "11111111-2222-4333-8444-555555555555"
    assert redact(f"Authorization: token {uuid}") == "Authorization: token ***"
    assert redact(f"Bearer {uuid}") == "Bearer ***"
    assert redact(f"http://h/api/x?a=1&token={uuid}&b=2") == "http://h/api/x?a=1&token=***&b=2"
    assert redact("api_key=supersecretvalue") == "api_key=supersecretvalue"  # no ?/& before it
    assert redact("http://h/?api_key=supersecretvalue") == "http://h/?api_key=***"


def test_prose_after_the_word_token_stays_readable():
    for text in (
        "no SkyPortal TOKEN configured: set SKYPORTAL_TOKEN",
        "the token expired; ask for a new one",
        "token provided is malformed",
    ):
        assert redact(text) == text
    assert redact("token abcdefghijklmnopqrstuvwxyz") == "token ***"  # long: a credential


def test_registered_secrets_are_masked_anywhere():
    secret = "plainlettersecret"
    register_secret(secret)
    assert redact(f"echo {secret}!") == "echo ***!"
    assert redact_headers({"Authorization": "token x", "X-Other": f"v {secret}"}) == {
        "Authorization": "***",
        "X-Other": "v ***",
    }
