"""Classes offered by SkyPortal taxonomies (tdtax-style hierarchies).

A taxonomy's ``hierarchy`` is a tree of ``{"class": name, "subclasses": [...],
"other names": [...]}`` nodes (the ``tdtax`` package's format). A classification posted to
SkyPortal must name one of the tree's classes; checking locally first means a typo is
refused at once, with the close matches, instead of sitting in the outbox until a push.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from typing import Any

import pandas as pd

from .errors import OutboxError


def iter_classes(
    hierarchy: dict[str, Any], depth: int = 0, parent: str | None = None
) -> Iterator[tuple[str, int, str | None]]:
    """Walk a hierarchy: ``(class name, depth, parent name)``, parents before children."""
    name = hierarchy.get("class")
    if name:
        yield name, depth, parent
    for child in hierarchy.get("subclasses", []) or []:
        yield from iter_classes(child, depth + 1, name or parent)


def allowed_classes(hierarchy: dict[str, Any] | str) -> list[str]:
    """Every class name of a taxonomy, in tree order."""
    tree = json.loads(hierarchy) if isinstance(hierarchy, str) else hierarchy
    return [name for name, _, _ in iter_classes(tree)]


def find_taxonomy(
    taxonomies: pd.DataFrame, classification: str, taxonomy: int | str | None = None
) -> int:
    """The id of the taxonomy to post ``classification`` with.

    ``taxonomy`` may be an id or a name; without it, the latest taxonomy that offers the
    class is chosen. Raises :class:`OutboxError` naming the taxonomies and close matches
    when the class is not offered.
    """
    rows = taxonomies
    if taxonomy is not None:
        column = "id" if isinstance(taxonomy, int) else "name"
        rows = taxonomies[taxonomies[column] == taxonomy]
        if rows.empty:
            raise OutboxError(
                f"no taxonomy {taxonomy!r} in the cache; known: {sorted(taxonomies['name'])}"
            )
    offered: list[str] = []
    for _, row in rows.iterrows():
        classes = allowed_classes(row["hierarchy"])
        if classification in classes:
            return int(row["id"])
        offered.extend(classes)
    close = difflib.get_close_matches(classification, offered, n=3)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    names = ", ".join(sorted(map(str, rows["name"])))
    raise OutboxError(f"{classification!r} is not a class of the taxonomy {names}{hint}")
