"""``workbench status``: what the cache holds, when each resource last synced, the outbox."""

from __future__ import annotations

import argparse
import json

from . import add_connection_options


def configure(parser: argparse.ArgumentParser) -> None:
    add_connection_options(parser, server=False)
    parser.add_argument("--json", action="store_true", help="print as JSON")


def run(args: argparse.Namespace) -> int:
    from ..facade import Workbench

    status = Workbench.open(cache=args.cache, offline=True, read_only=True).status()
    if args.json:
        print(json.dumps(status, indent=2, default=str))
        return 0
    print(f"cache   {status['cache']} (schema v{status['schema_version']})")
    print("tables")
    for table, count in sorted(status["tables"].items()):
        print(f"  {table:<22}{count:>10}")
    print("last sync")
    for resource, info in sorted(status["last_sync"].items()):
        print(f"  {resource:<22}{info}")
    outbox = status["outbox"]
    print("outbox  " + (", ".join(f"{k} {v}" for k, v in sorted(outbox.items())) or "empty"))
    return 0
