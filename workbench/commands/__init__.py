"""``workbench`` subcommands: each module has ``configure(parser)`` and ``run(args) -> int``."""

from __future__ import annotations

import argparse
import datetime as dt


def add_connection_options(parser: argparse.ArgumentParser, *, server: bool = True) -> None:
    """``--url`` and ``--cache``. The token never comes from the command line (it would
    show in ``ps``): it comes from ``SKYPORTAL_TOKEN`` or the config file."""
    if server:
        parser.add_argument(
            "--url", help="SkyPortal base URL (default: SKYPORTAL_URL or the config file)"
        )
    parser.add_argument(
        "--cache",
        help="cache file (default: WORKBENCH_CACHE, the config file, or cache/workbench.duckdb)",
    )


def positive_int(text: str) -> int:
    """An ``argparse`` type: a whole number >= 1 (a count of parallel requests, say)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def iso_time(text: str) -> dt.datetime:
    """An ``argparse`` type: an ISO-8601 time (UTC when it has no offset)."""
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO-8601 UTC time such as 2026-01-31 or 2026-01-31T12:00:00, got {text!r}"
        ) from None
