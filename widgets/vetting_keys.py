"""The vetting panel's keys: one key press to one action, and the classify/comment modes.

:class:`KeyHandler` holds what only the keys need (the classify mode's typed text and its
ranked classes); the panel keeps ``key_mode``, which its display and ``comment()`` also
reset. Imports point one way: the panel (:mod:`widgets.vetting`) imports this module,
never the reverse (not even for type hints: ``tests/test_import_cycles.py`` counts those
too), so the panel is described by :class:`KeyPanel`.
"""

from __future__ import annotations

import html
from typing import Any, Protocol

import ipywidgets as w

from workbench.errors import WorkbenchError

from .classification import ClassificationPanel
from .keys import KEY_ALIASES, rank_matches


class KeyPanel(Protocol):
    """What the keys act on (the vetting panel provides all of it)."""

    wb: Any
    key_mode: str | None  # None, "classify" or "comment"
    classifier: ClassificationPanel | None
    class_hint: w.HTML
    comment_text: w.Textarea
    keys_help: w.HTML

    def save(self) -> str | None: ...
    def reject(self) -> str | None: ...
    def skip(self) -> str | None: ...
    def previous(self) -> str | None: ...
    def undo(self) -> str | None: ...
    def comment(self, text: str | None = None) -> int: ...
    def toggle_classifier(self, show: bool | None = None) -> ClassificationPanel: ...
    def _need_current(self) -> str: ...


class KeyHandler:
    """The keys of one vetting panel (see :meth:`handle_key`)."""

    def __init__(self, panel: KeyPanel) -> None:
        self.panel = panel
        self.typed = ""  # the classify mode's type-ahead text
        self.class_order: list[str] = []  # the taxonomy's classes, most used first
        self.class_matches: list[str] = []  # what 1-9 pick, best match first

    def handle_key(self, key: str) -> Any:
        """Act on one key (a DOM ``KeyboardEvent.key``): ``s`` save, ``r`` reject, ``n`` or
        ArrowRight skip, ``b`` or ArrowLeft back, ``u`` undo, ``c`` classify (then 1-9 or
        type-ahead, Enter posts, Escape cancels), ``m`` comment (type, Enter posts, Escape
        cancels), ``?`` the keys. Other keys are ignored. Errors are raised (the browser
        hook shows them in the panel)."""
        p = self.panel
        if p.key_mode == "classify":
            return self._classify_key(key)
        if p.key_mode == "comment":
            return self._comment_key(key)
        name = KEY_ALIASES.get(key, key)
        actions = {
            "s": p.save,
            "r": p.reject,
            "n": p.skip,
            "b": p.previous,
            "u": p.undo,
            "c": self.start_classify,
            "m": self.start_comment,
            "?": self.toggle_help,
        }
        action = actions.get(name)
        return None if action is None else action()

    def toggle_help(self) -> None:
        """Show or hide the list of keys."""
        hidden = self.panel.keys_help.layout.display == "none"
        self.panel.keys_help.layout.display = "" if hidden else "none"

    def start_classify(self) -> ClassificationPanel:
        """Enter the classify mode: the classification panel shown, the hint line on."""
        classifier = self.panel.toggle_classifier(show=True)
        self.panel.key_mode, self.typed = "classify", ""
        self.class_order = self.popular_first(classifier.allowed_classes())
        self._update_class_hint()
        return classifier

    def popular_first(self, classes: list[str]) -> list[str]:
        """The taxonomy's classes, the ones most used in the cache first."""
        try:
            used = self.panel.wb.sql(
                "SELECT classification, count(*) AS n FROM classifications GROUP BY 1 ORDER BY 2 DESC"
            )
        except WorkbenchError:
            return classes
        rank = {str(c): i for i, c in enumerate(used["classification"])} if len(used) else {}
        return sorted(classes, key=lambda c: (rank.get(c, len(rank)), classes.index(c)))

    def _update_class_hint(self) -> None:
        p = self.panel
        self.class_matches = rank_matches(self.typed, self.class_order)
        choice = p.classifier.klass.value if p.classifier is not None else ""
        items = " · ".join(
            f"<b>{i}</b> {html.escape(c)}" for i, c in enumerate(self.class_matches, start=1)
        )
        p.class_hint.value = (
            f"<div class='wb-class-hint'>classify: <code>{html.escape(self.typed) or '…'}</code>"
            f" → <b>{html.escape(choice) or '?'}</b> &nbsp; {items} &nbsp; "
            "<small>(1-9 or type, Enter posts, Esc cancels)</small></div>"
        )

    def _classify_key(self, key: str) -> Any:
        p = self.panel
        classifier = p.classifier
        if classifier is None or key == "Escape":
            p.key_mode, p.class_hint.value = None, ""
            return None
        if key == "Enter":
            if not classifier.klass.value and self.class_matches:
                classifier.klass.value = self.class_matches[0]
            action_id = classifier.post()  # raises (mode kept) when no class is chosen
            p.key_mode, p.class_hint.value = None, ""
            return action_id
        if key.isdigit() and key != "0":
            index = int(key) - 1
            if index < len(self.class_matches):
                classifier.klass.value = self.class_matches[index]
        elif key == "Backspace":
            self.typed = self.typed[:-1]
        elif len(key) == 1:
            self.typed += key
            matches = rank_matches(self.typed, self.class_order)
            if matches:
                classifier.klass.value = matches[0]
        self._update_class_hint()
        return None

    def start_comment(self) -> None:
        """Enter the comment mode: typed keys go to the comment box."""
        p = self.panel
        p._need_current()
        p.key_mode = "comment"
        p.comment_text.focus()
        p.class_hint.value = (
            "<div class='wb-class-hint'>comment: type it, Enter posts, Esc cancels</div>"
        )

    def _comment_key(self, key: str) -> Any:
        p = self.panel
        if key == "Escape":
            p.key_mode, p.class_hint.value = None, ""
            return None
        if key == "Enter":
            return p.comment()
        if key == "Backspace":
            p.comment_text.value = p.comment_text.value[:-1]
        elif len(key) == 1:
            p.comment_text.value += key
        return None
