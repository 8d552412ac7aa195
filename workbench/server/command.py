"""``workbench serve``: run the local SkyPortal-compatible server in the foreground."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time

from ..errors import ConfigError
from .behaviour import LATENCY_PROFILES

TOKEN_ENV = "WORKBENCH_SERVER_TOKEN"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options."""
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to listen on (default 127.0.0.1; others need --allow-remote)",
    )
    parser.add_argument("--port", type=int, default=5000, help="TCP port (default 5000; 0 = any)")
    parser.add_argument(
        "--token",
        default=None,
        help=f"accepted API token (default: ${TOKEN_ENV} or a new uuid4, printed)",
    )
    parser.add_argument("--sources", type=int, default=200, help="saved sources to seed")
    parser.add_argument("--candidates", type=int, default=50, help="candidate objects to seed")
    parser.add_argument("--galaxies", type=int, default=400, help="galaxies in CLU_mini")
    parser.add_argument("--seed", type=int, default=42, help="random seed of the synthetic sky")
    parser.add_argument(
        "--rate-limit",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="nginx-like 5 r/s burst 10 limit with 429s (default off)",
    )
    parser.add_argument("--rate", type=float, default=5.0, help="rate limit, requests/s")
    parser.add_argument("--burst", type=int, default=10, help="rate limit burst")
    parser.add_argument(
        "--latency",
        choices=LATENCY_PROFILES,
        default="none",
        help="per-request latency profile (realistic: as measured on SkyPortal)",
    )
    parser.add_argument(
        "--latency-scale", type=float, default=1.0, help="multiply the latency profile (e.g. 0.1)"
    )
    parser.add_argument("--no-auth", action="store_true", help="accept requests without token")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (the token travels in clear text)",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing on start")


def check_token_shape(token: str, where: str) -> None:
    """Refuse a token that is not UUID-shaped, as a real SkyPortal's tokens are.

    The server would start and then answer 401 to every request (it checks the token's
    shape first, as SkyPortal does). The token itself is never shown.
    """
    from .handlers.base import UUID_RE

    if not UUID_RE.match(token.strip()):
        raise ConfigError(
            f"{where} is not a UUID-shaped token (like 123e4567-e89b-12d3-a456-426614174000), "
            "so every request would be refused with 401 as on a real SkyPortal: pass one "
            "made with `python -c 'import uuid; print(uuid.uuid4())'`, or leave it out and "
            "the server makes one up and prints it"
        )


def run(args: argparse.Namespace) -> int:
    """Seed, serve until Ctrl-C or SIGTERM; return the exit code."""
    from .local import LocalServer

    if args.sources < 0 or args.candidates < 0 or args.galaxies < 0:
        raise ConfigError("--sources, --candidates and --galaxies must be >= 0")
    token = args.token or os.environ.get(TOKEN_ENV)
    if token:
        check_token_shape(token, "--token" if args.token else f"${TOKEN_ENV}")
    started = time.perf_counter()
    srv = LocalServer(
        sources=args.sources,
        candidates=args.candidates,
        seed=args.seed,
        galaxies=args.galaxies,
        token=token,
        port=args.port,
        host=args.host,
        allow_remote=args.allow_remote,
        rate_limit=args.rate_limit,
        rate=args.rate,
        burst=args.burst,
        latency=args.latency,
        latency_scale=args.latency_scale,
        auth=not args.no_auth,
    )
    srv.start()
    if not args.quiet:
        counts = srv.store.counts()
        print(
            f"SkyPortal-compatible server on {srv.url} (seed {args.seed}: "
            f"{counts['sources']} sources, {counts['candidates']} candidates; "
            f"ready in {time.perf_counter() - started:.1f} s)"
        )
        print("Point the workbench at it with:")
        print(f"  export SKYPORTAL_URL={srv.url}")
        if not token:
            print(f"  export SKYPORTAL_TOKEN={srv.token}    # made up for this run")
        else:
            print("  export SKYPORTAL_TOKEN=<the token you passed>")
        print(
            "Admin API: /_workbench/behaviour, /_workbench/stats, /_workbench/mutate. "
            "Ctrl-C stops.",
            flush=True,
        )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    if not args.quiet:
        print("server stopped", file=sys.stderr)
    return 0
