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

    wb = Workbench.open(cache=args.cache, offline=True, read_only=True)
    status = wb.status()
    # the sources table has a row per (source, group) save: count what a user means by
    # "sources", the distinct saved objects (a 200-source server showed "sources 358")
    status["saved_sources"] = int(wb.sql("SELECT count(DISTINCT obj_id) FROM sources").iloc[0, 0])
    if args.json:
        print(json.dumps(status, indent=2, default=str))
        return 0
    print(f"cache   {status['cache']} (schema v{status['schema_version']})")
    print("tables")
    for table, count in sorted(status["tables"].items()):
        if table == "sources":
            print(f"  {table:<22}{status['saved_sources']:>10}  ({count} saves to groups)")
        else:
            print(f"  {table:<22}{count:>10}")
    print("last sync")
    for resource, info in sorted(status["last_sync"].items()):
        print(f"  {resource:<22}{info}")
    outbox = status["outbox"]
    print("outbox  " + (", ".join(f"{k} {v}" for k, v in sorted(outbox.items())) or "empty"))
    return 0
