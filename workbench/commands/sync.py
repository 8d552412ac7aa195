"""``workbench sync``: bring the local cache up to date from the server."""

from __future__ import annotations

import argparse
import json

from ..sync.context import ALL_RESOURCES
from . import add_connection_options, iso_time, positive_int


def configure(parser: argparse.ArgumentParser) -> None:
    add_connection_options(parser)
    parser.add_argument(
        "--resources",
        nargs="+",
        choices=ALL_RESOURCES,
        metavar="NAME",
        help=f"what to sync (default: all of {', '.join(ALL_RESOURCES)})",
    )
    parser.add_argument(
        "--group-id", type=int, action="append", default=[], help="only these groups (repeatable)"
    )
    parser.add_argument(
        "--filter-id",
        type=int,
        action="append",
        default=[],
        help="only candidates of these filters",
    )
    parser.add_argument(
        "--gcn-event", metavar="DATEOBS", help="only what lies in this GCN event's localization"
    )
    parser.add_argument(
        "--since",
        type=iso_time,
        help="backfill from this UTC time (watermarks unchanged)",
    )
    parser.add_argument(
        "--reconcile", action="store_true", help="also find rows deleted on the server"
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=4,
        help="parallel requests, at least 1 (within the rate limit)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    from ..facade import Workbench

    wb = Workbench.open(url=args.url, cache=args.cache)
    options = {
        "group_ids": args.group_id,
        "filter_ids": args.filter_id,
        "gcn_event": args.gcn_event,
        "since": args.since,
        "reconcile": args.reconcile,
        "concurrency": args.concurrency,
        "progress": not args.no_progress,
    }
    summary = wb.sync(args.resources, **options)
    print(json.dumps(summary.as_dict(), indent=2) if args.json else summary)
    return 0 if summary.ok else 3
