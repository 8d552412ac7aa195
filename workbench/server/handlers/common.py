"""Helpers shared by several handlers: object lookup, localization args, object records."""

from __future__ import annotations

from typing import Any

from .. import records
from ..queries import Localization
from ..timeutil import parse_time
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


#: SkyPortal's MAX_NUM_DAYS_USING_LOCALIZATION (10 "years" of 372 days).
MAX_DAYS_WITH_LOCALIZATION = 31 * 12 * 10
_LOC_SUFFIX = "when filtering by localizationDateobs or localizationName"


def require_detection_bounds(handler, first_name: str, last_name: str) -> None:
    """400 with SkyPortal's messages when a localization query lacks its detection bounds.

    As the captures' SkyPortal (1.4.0, main at 8bd346c0d) does: ``/api/sources`` wants
    ``startDate``/``endDate`` (first and last detection) with ``localizationDateobs``
    (by operator precedence, even with ``requireDetections=false``) or with
    ``localizationName`` when ``requireDetections`` is on; ``/api/candidates``, when
    ``requireDetections`` is on (the default), wants ``firstDetectionAfter``,
    ``lastDetectionBefore`` and ``numberDetections``, though its message names startDate
    and endDate. The bounds must be ordered and less than 10 years (3,720 days) apart.
    The local server checks the bounds; it does not filter by detection dates.
    """
    dateobs, name = handler.arg("localizationDateobs"), handler.arg("localizationName")
    require = (handler.arg("requireDetections") or "true").lower() not in {"false", "0"}
    candidates = first_name == "firstDetectionAfter"
    if candidates:
        if not ((dateobs or name) and require):
            return
        first, last = handler.arg(first_name), handler.arg(last_name)
        if not first or not last or handler.arg("numberDetections") is None:
            raise ApiError(
                "must specify startDate, endDate and numberDetections when requireDetections "
                "is True and filtering by localizationDateobs or localizationName"
            )
    else:
        if not (dateobs or (name and require)):
            return
        first, last = handler.arg(first_name), handler.arg(last_name)
        if not first or not last:
            raise ApiError(f"must specify startDate and endDate {_LOC_SUFFIX}")
    try:
        start, end = parse_time(str(first)), parse_time(str(last))
    except ValueError as exc:
        raise ApiError(f"{first_name} and {last_name} must be valid UTC dates") from exc
    if start > end:
        raise ApiError(f"startDate must be before endDate {_LOC_SUFFIX}")
    if (end - start) // (86_400 * 10**6) > MAX_DAYS_WITH_LOCALIZATION:
        raise ApiError(f"startDate and endDate must be less than 10 years apart {_LOC_SUFFIX}")


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
