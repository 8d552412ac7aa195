"""Single-key vetting: the key names and their help.

In JupyterLab's command mode ``s`` saves the notebook and ``r``/``m``/``dd`` edit cells, so
keys meant for the panel must never reach JupyterLab. The vetting panel's stage
(:mod:`widgets.vetting_stage`) listens on the whole document while the mouse is over the
candidate area (or after a click on it), in the capture phase, and on every key it takes
it calls ``preventDefault()`` and ``stopPropagation()``: no notebook command runs. Modifier
keys alone (Shift, Ctrl, ...) are ignored, so ``?`` (Shift + /) arrives as ``?``.

Key handling itself is pure Python (:meth:`widgets.VettingPanel.handle_key`), so tests
drive it without a browser.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

# The key names are fixed: docs and scripts rely on them.
KEYS: tuple[tuple[str, str], ...] = (
    ("s", "save to the scan groups"),
    ("r", "reject"),
    ("n / →", "skip (next)"),
    ("b / ←", "back (the previous candidate, its decision shown and changeable)"),
    ("u", "undo the last decision"),
    ("c", "classify: then 1-9 or type a class name, Enter posts, Esc cancels"),
    ("m", "comment: type it, Enter posts, Esc cancels"),
    ("?", "show or hide these keys"),
)
KEY_ALIASES = {
    "ArrowRight": "n",
    "ArrowLeft": "b",
    "S": "s",
    "R": "r",
    "N": "n",
    "B": "b",
    "U": "u",
    "C": "c",
    "M": "m",
}


def keys_help_html() -> str:
    """The keys as a small HTML table (shown by ``?`` and in notebook 02)."""
    rows = "".join(
        f"<tr><td><kbd>{html.escape(k)}</kbd></td><td>{html.escape(what)}</td></tr>"
        for k, what in KEYS
    )
    return (
        "<div class='wb-keys'><b>Keys</b> (click the candidate area first; they act on the "
        f"panel until a click elsewhere)<table>{rows}</table></div>"
    )


def rank_matches(typed: str, classes: Sequence[str], limit: int = 9) -> list[str]:
    """Classes for a type-ahead: those starting with ``typed`` (case-insensitive) first,
    then those containing it, each group in the given order; at most ``limit``."""
    text = typed.strip().lower()
    if not text:
        return list(classes[:limit])
    starts = [c for c in classes if c.lower().startswith(text)]
    inside = [c for c in classes if text in c.lower() and c not in starts]
    return (starts + inside)[:limit]
