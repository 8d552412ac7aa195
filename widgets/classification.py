"""Classify an object with a class its taxonomy offers, and undo it.

The class picker only offers the chosen taxonomy's classes (a searchable ``Combobox``); a
class typed by hand is checked against the same list, so a typo is refused at once with the
close matches instead of being refused by the server at the next push. Post queues the
classification through the outbox (pushed at once when online); Undo drops it while it is
still queued, or queues its deletion once the server has it.
"""

from __future__ import annotations

import difflib
import html
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as w
import pandas as pd

from workbench.errors import OutboxError
from workbench.taxonomy import iter_classes

from ._common import Panel, as_id_list, group_options, html_table, json_value
from .outbox import OutboxStrip

CLASSIFICATION_COLUMNS = (
    "classification",
    "probability",
    "taxonomy",
    "author_name",
    "created_at",
    "pending",
)


def taxonomy_names(taxonomies: pd.DataFrame) -> dict[int, str]:
    """``{taxonomy id: "name version"}`` of the cached taxonomies (names, not ids)."""
    if taxonomies is None or taxonomies.empty:
        return {}
    out = {}
    for row in taxonomies.to_dict("records"):
        version = f" {row['version']}" if isinstance(row.get("version"), str) else ""
        out[int(row["id"])] = f"{row.get('name') or '#' + str(row['id'])}{version}"
    return out


def with_taxonomy_names(frame: pd.DataFrame, names: dict[int, str]) -> pd.DataFrame:
    """The classifications with a ``taxonomy`` column holding the taxonomy's name."""
    if frame is None or frame.empty or "taxonomy_id" not in frame:
        return frame

    def name(value: Any) -> str:
        if value is None or pd.isna(value):
            return ""
        return names.get(int(value), f"#{int(value)}")

    return frame.assign(taxonomy=frame["taxonomy_id"].map(name))


@dataclass
class ClassificationState:
    """The panel's choices, and the outbox ids of what it posted (newest last) for Undo."""

    obj_id: str | None = None
    taxonomy_id: int | None = None
    posted: list[int] = field(default_factory=list)


def taxonomy_options(taxonomies: pd.DataFrame) -> list[tuple[str, int]]:
    """``(label, id)`` of the cached taxonomies: latest versions first, then the broadest
    (most classes, e.g. the full tdtax tree before a small project taxonomy)."""
    if taxonomies.empty:
        return []
    frame = taxonomies.copy()
    latest = frame["isLatest"].fillna(False).astype(bool) if "isLatest" in frame else True
    sizes = (
        frame["hierarchy"].map(lambda h: len(class_paths(h)) if isinstance(h, str | dict) else 0)
        if "hierarchy" in frame
        else 0
    )
    frame = frame.assign(_latest=latest, _size=sizes)
    frame = frame.sort_values(["_latest", "_size", "id"], ascending=False)
    out = []
    for _, row in frame.iterrows():
        version = f" {row['version']}" if isinstance(row.get("version"), str) else ""
        out.append((f"{row['name']}{version} (#{int(row['id'])})", int(row["id"])))
    return out


def class_paths(hierarchy: Any) -> dict[str, str]:
    """Each class of a taxonomy mapped to its lineage, e.g. ``{"Ia": "Time-domain › SN › Ia"}``."""
    tree = json_value(hierarchy) or {}
    parents: dict[str, str | None] = {}
    for name, _depth, parent in iter_classes(tree):
        parents.setdefault(name, parent)
    paths = {}
    for name in parents:
        chain, node, seen = [], name, set()
        while node is not None and node not in seen:
            seen.add(node)
            chain.append(node)
            node = parents.get(node)
        paths[name] = " › ".join(reversed(chain))
    return paths


class ClassificationPanel(Panel):
    """Pick a taxonomy, a class, a probability and groups; Post and Undo."""

    def __init__(self, wb: Any, obj_id: str | None = None) -> None:
        super().__init__(wb)
        self.state = ClassificationState()
        # called as on_post(action_id, obj_id, class) after each Post (the vetting panel's
        # scan report); None for a panel on its own
        self.on_post: Any = None
        self._taxonomies = wb.taxonomies()
        self._taxonomy_names = taxonomy_names(self._taxonomies)
        self._paths: dict[str, str] = {}
        self._build()
        if obj_id:
            self.set_object(obj_id)
        if not self._taxonomies.empty:
            # The Dropdown already selected its first option: no change event, so apply it.
            self._on_taxonomy(self.taxonomy.value)
        else:
            self.say("no taxonomy in the cache yet: run wb.sync() (or wb.sync(['taxonomies']))")

    def _build(self) -> None:
        guard = self.errors.guard
        self.obj = w.Text(
            description="Object", placeholder="e.g. ZTF21aaqjmps", continuous_update=False
        )
        self.taxonomy = w.Dropdown(
            description="Taxonomy", options=taxonomy_options(self._taxonomies)
        )
        self.klass = w.Combobox(
            description="Class", placeholder="type to search", ensure_option=True, options=[]
        )
        self.lineage = w.HTML()
        self.probability = w.FloatSlider(
            description="Probability", value=1.0, min=0.0, max=1.0, step=0.01, readout_format=".2f"
        )
        self.groups = w.SelectMultiple(description="Groups", options=group_options(self.wb), rows=4)
        self.post_button = w.Button(description="Post", icon="check", button_style="success")
        self.undo_button = w.Button(description="Undo", icon="undo")
        self.existing = w.HTML()
        self.strip = OutboxStrip(self.wb, self.errors, on_push=lambda _r: self.refresh())
        self.obj.observe(guard(lambda c: self.set_object(c["new"])), names="value")
        self.taxonomy.observe(guard(lambda c: self._on_taxonomy(c["new"])), names="value")
        self.klass.observe(guard(lambda c: self._show_lineage(c["new"])), names="value")
        self.post_button.on_click(guard(lambda _b: self.post()))
        self.undo_button.on_click(guard(lambda _b: self.undo()))
        self.widget = w.VBox(
            [
                w.HTML("<b>Classification</b>"),
                self.obj,
                self.taxonomy,
                w.HBox([self.klass, self.lineage]),
                self.probability,
                self.groups,
                w.HBox([self.post_button, self.undo_button]),
                self.message,
                self.existing,
                self.strip.widget,
                self.errors.output,
            ]
        )

    # -- state changes -----------------------------------------------------------------------
    def set_object(self, obj_id: str | None) -> None:
        """Show (and classify) this object. A new object starts afresh: no class, probability
        1, no message (one Post must never classify the next object with the last one's
        class)."""
        obj_id = (obj_id or "").strip() or None
        if obj_id != self.state.obj_id:
            self.reset()
        self.state.obj_id = obj_id
        if self.obj.value != (obj_id or ""):
            self.obj.value = obj_id or ""
        self.refresh()

    def reset(self) -> None:
        """Clear the class, the probability (back to 1) and the message."""
        self.klass.value = ""
        self.lineage.value = ""
        self.probability.value = 1.0
        self.message.value = ""

    def _on_taxonomy(self, taxonomy_id: int | None) -> None:
        self.state.taxonomy_id = taxonomy_id
        self.klass.options = self.allowed_classes()
        if self.klass.value and self.klass.value not in self._paths:
            self.klass.value = ""

    def allowed_classes(self) -> list[str]:
        """The classes of the chosen taxonomy, in tree order."""
        if self.state.taxonomy_id is None:
            self._paths = {}
            return []
        row = self._taxonomies[self._taxonomies["id"] == self.state.taxonomy_id]
        self._paths = class_paths(row.iloc[0]["hierarchy"]) if not row.empty else {}
        return list(self._paths)

    def _show_lineage(self, name: str) -> None:
        path = self._paths.get(name)
        self.lineage.value = f"<small>{html.escape(path)}</small>" if path else ""

    def refresh(self) -> None:
        """Re-read the object's classifications and the outbox counts from the cache."""
        self.strip.refresh()
        if not self.state.obj_id:
            self.existing.value = "<i>choose an object</i>"
            return
        frame = with_taxonomy_names(
            self.wb.classifications(self.state.obj_id), self._taxonomy_names
        )
        self.existing.value = (
            f"<b>Classifications of {html.escape(self.state.obj_id)}</b>"
            + html_table(frame, CLASSIFICATION_COLUMNS, empty="none yet")
        )

    # -- actions -----------------------------------------------------------------------------
    def post(self) -> int:
        """Queue the classification (pushed at once when online); returns the outbox id."""
        obj_id = self.state.obj_id
        if not obj_id:
            raise OutboxError("enter the object to classify (its id, e.g. ZTF21aaqjmps)")
        if self.state.taxonomy_id is None:
            raise OutboxError(
                "no taxonomy chosen: sync the taxonomies first (wb.sync(['taxonomies']))"
            )
        name = (self.klass.value or "").strip()
        self._check_class(name)
        action_id = self.wb.classify(
            obj_id,
            name,
            taxonomy=int(self.state.taxonomy_id),
            probability=float(self.probability.value),
            group_ids=as_id_list(self.groups.value) or None,
        )
        self.state.posted.append(int(action_id))
        if self.on_post is not None:
            self.on_post(int(action_id), obj_id, name)
        self.refresh()
        self.say(f"{obj_id} classified as {name} (outbox #{action_id}, {self._status(action_id)})")
        return int(action_id)

    def _check_class(self, name: str) -> None:
        allowed = list(self._paths)
        if name in self._paths:
            return
        if not name:
            raise OutboxError("choose a class from the list (type to search)")
        close = difflib.get_close_matches(name, allowed, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        label = dict((v, k) for k, v in self.taxonomy.options).get(self.state.taxonomy_id, "")
        raise OutboxError(f"{name!r} is not a class of the taxonomy {label}{hint}")

    def undo(self) -> int | None:
        """Undo the last classification posted here.

        Still queued (or refused): the action is dropped and its local effect removed.
        Already on the server: a deletion is queued (returns its outbox id). Sent but with
        an unknown outcome: refused until a push settles it.
        """
        if not self.state.posted:
            raise OutboxError("nothing to undo: no classification was posted from this panel")
        action_id = self.state.posted[-1]
        row = self._action(action_id)
        status = row["status"] if row is not None else "gone"
        if status in ("sending", "unknown"):
            raise OutboxError(
                f"outbox #{action_id} may or may not have reached the server; push first "
                "(the outbox checks), then undo"
            )
        self.state.posted.pop()
        result = None
        if status in ("pending", "rejected", "failed"):
            self.wb.outbox.drop(action_id)
            self.say(f"outbox #{action_id} dropped before it was sent")
        elif status == "sent":
            remote = row.get("remote_id")
            if remote is None or pd.isna(remote):
                raise OutboxError(
                    f"outbox #{action_id} was sent but its classification id is unknown; "
                    "delete it from the object's classifications instead"
                )
            result = int(self.wb.unclassify(int(remote)))
            self.say(f"classification #{int(remote)} deletion queued (outbox #{result})")
        else:
            self.say(f"outbox #{action_id} was already {status}")
        self.refresh()
        return result

    def _action(self, action_id: int) -> dict[str, Any] | None:
        frame = self.wb.outbox.list()
        match = frame[frame["id"] == action_id]
        return match.iloc[0].to_dict() if not match.empty else None

    def _status(self, action_id: int) -> str:
        row = self._action(action_id)
        return str(row["status"]) if row is not None else "gone"
