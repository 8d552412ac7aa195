"""Helpers shared by several handlers: object lookup, localization args, object records."""

from __future__ import annotations

from typing import Any

from .. import records
from ..queries import Localization
from .base import ApiError


def find_obj(handler, obj_id: str, *, message: str = "Source not found", status: int = 404) -> int:
    """Index of ``obj_id`` or an :class:`ApiError` with the given message."""
    idx = handler.store.find(obj_id)
    if idx is None:
        raise ApiError(message, status)
    return idx


def localization_args(handler) -> Localization | None:
    """``localizationDateobs``/``localizationName``/``localizationCumprob`` (default 0.95)."""
    dateobs = handler.arg("localizationDateobs")
    if not dateobs:
        return None
    cumprob = handler.float_arg("localizationCumprob")
    return Localization(
        dateobs=str(dateobs),
        name=handler.arg("localizationName"),
        cumprob=0.95 if cumprob is None else cumprob,
    )


def list_classifications(store, idx: int) -> list[dict[str, Any]]:
    """Classifications as embedded in source and candidate lists (with groups/votes)."""
    out = []
    for row in store.classifications_of(idx):
        rec = records.classification(store, int(row))
        rec["groups"] = []
        rec["votes"] = []
        out.append(rec)
    return out


def list_annotations(store, idx: int) -> list[dict[str, Any]]:
    """Annotations as embedded in source lists (no author), ordered by origin."""
    anns = sorted(store.annotations("sources", idx), key=lambda a: a["origin"])
    return [records.annotation(store, "sources", idx, a, author=False) for a in anns]


def plain_comments(store, idx: int) -> list[dict[str, Any]]:
    """Comments as embedded in source lists: no author, no groups, oldest first."""
    out = [
        records.comment(store, "sources", idx, c, with_groups=False)
        for c in sorted(store.comments("sources", idx), key=lambda c: c["created"])
    ]
    for c in out:
        c.pop("author", None)
    return out


def full_comments(store, idx: int) -> list[dict[str, Any]]:
    """Comments with author and groups, newest first (single source, candidates)."""
    return [
        records.comment(store, "sources", idx, c)
        for c in sorted(store.comments("sources", idx), key=lambda c: -c["created"])
    ]
