"""Vectorised selection and ordering of sources and candidates (numpy masks).

Mirrors SkyPortal's semantics where the captures and DESIGN.md pin them down: the
source list's default order is ``saved_at`` descending (each object's latest save in
the chosen groups), ``createdOrModifiedAfter`` compares ``created_at`` or ``modified``,
localization filters keep positions whose credible level is <= ``localizationCumprob``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SORTABLE = ("id", "ra", "dec", "redshift", "saved_at", "origin", "alias", "created_at")


class QueryError(ValueError):
    """A filter the server cannot apply (the handler turns it into a 400)."""


@dataclass
class Localization:
    """A localization filter: event dateobs, localization name, cumulative probability."""

    dateobs: str
    name: str | None
    cumprob: float


def localization_mask(store, loc: Localization, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """True for positions inside the ``cumprob`` credible region of the localization."""
    event = store.events.get(loc.dateobs.replace(" ", "T").split(".")[0])
    if event is None:
        raise QueryError(f"Localization with dateobs {loc.dateobs} not found")
    if loc.name is not None and loc.name != event.loc_name:
        raise QueryError(f"Localization {loc.name} not found for event {event.dateobs}")
    if len(ra) == 0:
        return np.zeros(0, dtype=bool)
    return event.credible_level_of(ra, dec) <= loc.cumprob


def cone_mask(
    ra0: float, dec0: float, radius: float, ra: np.ndarray, dec: np.ndarray
) -> np.ndarray:
    """True within ``radius`` degrees of (ra0, dec0)."""
    r0, d0, r, d = map(np.radians, (ra0, dec0, ra, dec))
    cos = np.sin(d0) * np.sin(d) + np.cos(d0) * np.cos(d) * np.cos(r - r0)
    return cos >= np.cos(np.radians(radius))


def latest_save(store, slots: np.ndarray) -> np.ndarray:
    """Each object's latest ``saved_at`` over the given group slots (-1: not saved)."""
    n = len(store.objs)
    if len(slots) == 0:
        return np.full(n, -1, dtype=np.int64)
    return store.saved_at[:n][:, slots].max(axis=1)


def select_sources(
    store,
    *,
    slots: np.ndarray,
    source_id: str | None = None,
    changed_after: int | None = None,
    saved_after: int | None = None,
    saved_before: int | None = None,
    cone: tuple[float, float, float] | None = None,
    min_z: float | None = None,
    max_z: float | None = None,
    loc: Localization | None = None,
    has_spectrum: bool = False,
) -> np.ndarray:
    """Indices of the objects saved to any of ``slots`` that pass every filter."""
    o = store.objs
    n = len(o)
    saves = store.saved_at[:n][:, slots] if len(slots) else np.full((n, 0), -1)
    mask = (saves >= 0).any(axis=1)
    if source_id:
        needle = source_id.strip().lower()
        mask &= np.fromiter((needle in s.lower() for s in o["id"]), bool, n)
    if changed_after is not None:
        mask &= (o["created"] > changed_after) | (o["modified"] > changed_after)
    if saved_after is not None:
        mask &= (saves > saved_after).any(axis=1)
    if saved_before is not None:
        mask &= ((saves >= 0) & (saves < saved_before)).any(axis=1)
    if cone is not None:
        mask &= cone_mask(*cone, o["ra"], o["dec"])
    z = o["redshift"]
    with np.errstate(invalid="ignore"):
        if min_z is not None:
            mask &= z >= min_z
        if max_z is not None:
            mask &= z <= max_z
    if has_spectrum:
        live = ~store.spectra["deleted"]
        with_spec = np.zeros(n, dtype=bool)
        with_spec[store.spectra["obj"][live]] = True
        mask &= with_spec
    idx = np.flatnonzero(mask)
    if loc is not None:
        idx = idx[localization_mask(store, loc, o["ra"][idx], o["dec"][idx])]
    return idx


def order_sources(
    store,
    idx: np.ndarray,
    slots: np.ndarray,
    sort_by: str | None,
    sort_order: str | None,
    *,
    saved_desc_default: bool = True,
) -> np.ndarray:
    """Order source indices like SkyPortal: default ``saved_at`` descending."""
    if sort_by is None:
        if saved_desc_default:
            key = latest_save(store, slots)[idx]
            return idx[np.lexsort((idx, -key))]
        return idx[np.lexsort((idx, store.objs["created"][idx]))]
    if sort_by not in SORTABLE:
        raise QueryError(f"Invalid sortBy: {sort_by!r}; use one of {list(SORTABLE)}")
    order = (sort_order or "asc").lower()
    if order not in ("asc", "desc"):
        raise QueryError(f"Invalid sortOrder: {sort_order!r}; use 'asc' or 'desc'")
    o = store.objs
    if sort_by == "saved_at":
        key = latest_save(store, slots)[idx].astype(float)
    elif sort_by == "created_at":
        key = o["created"][idx].astype(float)
    elif sort_by in ("id", "origin", "alias"):
        values = [str(v) if v is not None else "" for v in o[sort_by][idx]]
        key = np.argsort(
            np.argsort(np.array(values, dtype=object), kind="stable"), kind="stable"
        ).astype(float)
    else:
        key = o[sort_by][idx].astype(float)
        key = np.where(np.isnan(key), np.inf if order == "asc" else -np.inf, key)
    if order == "desc":
        key = -key
    return idx[np.lexsort((idx, key))]


def select_candidates(
    store,
    *,
    filter_ids: list[int],
    start: int | None,
    end: int | None,
    saved_status: str,
    group_ids: list[int],
    reject: set[str],
    only: set[str] | None,
    min_z: float | None,
    max_z: float | None,
    loc: Localization | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(object indices, their latest matching ``passed_at``) of matching candidates."""
    c = store.cands
    rows = ~c["deleted"] & np.isin(c["filter_id"], filter_ids)
    if start is not None:
        rows &= c["passed_at"] >= start
    if end is not None:
        rows &= c["passed_at"] <= end
    objs = c["obj"][rows]
    passed = c["passed_at"][rows]
    if len(objs) == 0:
        return objs, passed
    order = np.lexsort((passed, objs))
    objs, passed = objs[order], passed[order]
    last = np.r_[objs[1:] != objs[:-1], True]
    objs, passed = objs[last], passed[last]
    keep = _saved_status(store, objs, saved_status, group_ids)
    o = store.objs
    z = o["redshift"][objs]
    with np.errstate(invalid="ignore"):
        if min_z is not None:
            keep &= z >= min_z
        if max_z is not None:
            keep &= z <= max_z
    if reject or only is not None:
        ids = o["id"][objs]
        keep &= np.fromiter(
            ((i not in reject) and (only is None or i in only) for i in ids), bool, len(ids)
        )
    objs, passed = objs[keep], passed[keep]
    if loc is not None:
        inside = localization_mask(store, loc, o["ra"][objs], o["dec"][objs])
        objs, passed = objs[inside], passed[inside]
    return objs, passed


SAVED_STATUSES = (
    "all",
    "savedToAllSelected",
    "savedToAnySelected",
    "savedToAnyAccessible",
    "notSavedToAnyAccessible",
    "notSavedToAnySelected",
    "notSavedToAllSelected",
)


def _saved_status(store, objs: np.ndarray, status: str, group_ids: list[int]) -> np.ndarray:
    if status not in SAVED_STATUSES:
        raise QueryError(
            f"Invalid savedStatus: {status}. Must be one of the enumerated "
            f"options: {list(SAVED_STATUSES)}"
        )
    if status == "all":
        return np.ones(len(objs), dtype=bool)
    selected = store.saved_at[objs][:, store.slots(group_ids)] >= 0
    accessible = store.saved_at[objs][:, store.slots()] >= 0
    return {
        "savedToAllSelected": selected.all(axis=1)
        if selected.shape[1]
        else np.zeros(len(objs), bool),
        "savedToAnySelected": selected.any(axis=1),
        "savedToAnyAccessible": accessible.any(axis=1),
        "notSavedToAnyAccessible": ~accessible.any(axis=1),
        "notSavedToAnySelected": ~selected.any(axis=1),
        "notSavedToAllSelected": ~selected.all(axis=1)
        if selected.shape[1]
        else np.ones(len(objs), bool),
    }[status]
