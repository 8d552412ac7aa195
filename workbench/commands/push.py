"""``workbench push``: send the actions waiting in the outbox."""

from __future__ import annotations

import argparse

from . import add_connection_options


def configure(parser: argparse.ArgumentParser) -> None:
    add_connection_options(parser)


def run(args: argparse.Namespace) -> int:
    from ..facade import Workbench

    report = Workbench.open(url=args.url, cache=args.cache).push()
    print(report)
    return 0 if report.ok else 3
