"""The ``workbench`` command line: a thin layer over the library.

Each subcommand lives beside the code it drives, as a module exposing
``configure(parser)`` (adds its options) and ``run(args) -> int`` (the exit code).
This file only routes, so ``workbench --help`` stays fast: a subcommand's module is
imported when that subcommand runs or its help is asked for.

Exit codes scripts can rely on: 0 success, 1 a workbench error (message on stderr),
2 bad usage, 3 partial success (for example actions left in the outbox), 130 interrupted.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from importlib import import_module

from .errors import WorkbenchError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("workbench.server.command", "run the local SkyPortal-compatible server"),
    "sync": ("workbench.commands.sync", "bring the local cache up to date from the server"),
    "status": ("workbench.commands.status", "what the cache holds, last syncs, the outbox"),
    "push": ("workbench.commands.push", "send the actions waiting in the outbox"),
    "crossmatch": ("workbench.commands.crossmatch", "positions against a localization (2D and 3D)"),
    "export": ("workbench.commands.export", "cache tables or a galaxy file as HATS or Parquet"),
    "demo": (
        "workbench.commands.demo",
        "local server + synced cache + JupyterLab on the notebooks",
    ),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; ``only`` configures just that subcommand (the others stay stubs).

    With ``only=None`` no subcommand module is imported: ``workbench --help`` needs only
    the names and one-line helps above, and importing them all (the server pulls in
    tornado, healpy, astropy) took seconds.
    """
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="SkyPortal Workbench: sync a SkyPortal server into a local cache, "
        "push your actions back, crossmatch localizations, run a local server.",
    )
    from ._version import __version__

    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if only == name:
            import_module(module).configure(sp)
        sp.set_defaults(_module=module)
    return parser


# The library's messages give Python advice (``wb.sync([...])``); these rewrite what the
# CLI may meet into the same advice as commands. An error can also carry its own
# ``cli_message`` (see ``WorkbenchError.for_cli``), which wins.
_CLI_WORDING: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"give Workbench\.open a url and token, or set SKYPORTAL_URL and SKYPORTAL_TOKEN"
        ),
        "pass --url (or set SKYPORTAL_URL) and set SKYPORTAL_TOKEN",
    ),
    (
        re.compile(r"wb\.sync\(\[([^\]]*)\](?:, gcn_event=(['\"])([^'\"]*)\2)?\)"),
        "__sync__",
    ),
    (re.compile(r"wb\.sync\(\)"), "`workbench sync`"),
    (
        re.compile(r"(?:open it|opening it) (?:once )?without read_only(?:=True)?"),
        "run `workbench sync` on it",
    ),
    (re.compile(r"read_only=True"), "read-only"),
    (
        re.compile(r"pass normalize=True to rescale it or check=False to use it as is"),
        "check that the file is complete (from Python, read_skymap(path, normalize=True) "
        "rescales it)",
    ),
)


def _sync_command(match: re.Match[str]) -> str:
    resources = re.findall(r"['\"](\w+)['\"]", match.group(1))
    words = ["workbench sync"]
    if resources:
        words.append("--resources " + " ".join(resources))
    if match.group(3):
        words.append(f"--gcn-event {match.group(3)}")
    return "`" + " ".join(words) + "`"


def for_the_command_line(exc: WorkbenchError) -> str:
    """An error's message worded for the shell: commands and options, not Python calls."""
    if exc.cli_message:
        return exc.cli_message
    text = str(exc)
    for pattern, replacement in _CLI_WORDING:
        text = pattern.sub(_sync_command if replacement == "__sync__" else replacement, text)
    return text


def _requested_command(argv: Sequence[str]) -> str | None:
    # the top-level parser has no option taking a value, so the first word that is not
    # an option is the subcommand (a later word may be an option's value: `--cache status`)
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``workbench`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=_requested_command(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(import_module(args._module).run(args) or 0)
    except WorkbenchError as exc:
        print(f"workbench {args.command}: {for_the_command_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        # the file system said no (a read-only folder, a full disk) somewhere the workbench
        # did not expect it: say what and where, without a traceback
        where = f" ({exc.filename})" if exc.filename else ""
        print(
            f"workbench {args.command}: {exc.strerror or exc}{where}; check the paths given "
            "and that their folders exist and are writable",
            file=sys.stderr,
        )
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"workbench {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
