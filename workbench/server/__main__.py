"""``python -m workbench.server``: the same as ``workbench serve``."""

from __future__ import annotations

import argparse
import sys

from ..errors import WorkbenchError
from .command import configure, run


def main() -> int:
    """Parse the serve options and run the server in the foreground."""
    parser = argparse.ArgumentParser(
        prog="python -m workbench.server", description="Run the local SkyPortal-compatible server."
    )
    configure(parser)
    args = parser.parse_args()
    try:
        return run(args)
    except WorkbenchError as exc:
        print(f"workbench server: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
