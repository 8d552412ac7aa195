"""Backoff arithmetic and Retry-After parsing."""

from __future__ import annotations

import random

import pytest

from workbench.client.retry import RetryPolicy, parse_retry_after
from workbench.errors import ConfigError


def test_full_jitter_stays_under_the_exponential_cap():
    policy = RetryPolicy(max_retries=10, backoff=0.5, max_backoff=30.0, rng=random.Random(1))
    for attempt in range(10):
        cap = min(30.0, 0.5 * 2**attempt)
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays)
        assert max(delays) > 0.8 * cap  # spread over the whole range, not a fixed step


def test_retry_after_overrides_the_backoff():
    assert RetryPolicy().delay(0, retry_after=7.0) == 7.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("-4", 0.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # already past
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_seconds_or_http_date(header, expected):
    now = 1445412480.0  # 2015-10-21 07:28:00 UTC
    assert parse_retry_after(header, now=now) == expected


def test_negative_settings_are_refused():
    with pytest.raises(ConfigError):
        RetryPolicy(max_retries=-1)
