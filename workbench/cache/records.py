"""Server records -> the cache's rows: how one SkyPortal JSON record splits into tables.

Pure functions, no DuckDB. A source record is an obj plus its group links (``groups``) and,
when the request embedded them, comments, classifications, annotations, thumbnails and
photometry; a candidate record is an obj plus candidate fields plus embedded
classifications, annotations, thumbnails (and comments/photometry when asked for).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from itertools import repeat
from typing import Any

import numpy as np

from ..errors import CacheError
from .migrations import SCORE_KEYS

# Keys of an obj record that hold other tables' rows, never stored in the obj's own JSON.
EMBEDDED = (
    "groups",
    "comments",
    "classifications",
    "annotations",
    "thumbnails",
    "photometry",
    "spectra",
)
# Keys of a candidate record that describe the candidacy rather than the obj.
CANDIDATE_KEYS = (
    "passing_group_ids",
    "saved_groups",
    "is_source",
    "last_detected_at",
    "filter_ids",
    "filter_id",
    "passed_at",
    "passing_alert_id",
    "passing_filter_ids",
)
COLLECTIONS = ("comments", "classifications", "annotations", "thumbnails", "photometry")

PHOT_ZP = 23.9  # AB magnitude of 1 microJansky: the flux system the cache stores
LIMIT_NSIGMA = 5.0  # SkyPortal derives limiting magnitudes as 5-sigma flux limits
_MAG_PER_LN = 2.5 / math.log(10)


def check_records(records: Any, what: str, key: str = "id") -> list[dict]:
    """The records as a list of dicts, each with a ``key``; a clear error otherwise."""
    if isinstance(records, Mapping):
        raise CacheError(
            f"{what}: expected a list of records, got one mapping with keys "
            f"{sorted(records)[:8]}; pass e.g. data['sources'], not the whole envelope."
        )
    if records is None or isinstance(records, str | bytes):
        raise CacheError(f"{what}: expected a list of records, got {type(records).__name__}")
    out = list(records)
    if all(type(rec) is dict for rec in out):  # the server's JSON: no ABC check per record
        ids = list(map(dict.get, out, repeat(key)))
        if None not in ids and "" not in ids:  # membership tests run in C
            return out
    for i, rec in enumerate(out):
        if not isinstance(rec, Mapping):
            raise CacheError(f"{what}: record #{i} is a {type(rec).__name__}, not a JSON object")
        if rec.get(key) in (None, ""):
            raise CacheError(
                f"{what}: record #{i} has no {key!r} (its keys: {sorted(rec)[:12]}); pass the "
                f"server's records unchanged."
            )
    return out


def obj_part(record: Mapping, drop: Iterable[str]) -> dict:
    """The obj's own fields: the record without embedded collections and ``drop`` keys."""
    # a copy (in C) less a few keys: ~4x a comprehension over every key of every record
    out = dict(record)
    for key in EMBEDDED:
        out.pop(key, None)
    for key in drop:
        out.pop(key, None)
    return out


def _username(user: Any) -> str | None:
    if type(user) is dict or isinstance(user, Mapping):
        return user.get("username")
    return user if isinstance(user, str) else None


def _ids(items: Any) -> list | None:
    """Sorted distinct ids of a list of group dicts or ids (SkyPortal repeats some)."""
    if items is None:
        return None
    ids = {i.get("id") if type(i) is dict or isinstance(i, Mapping) else i for i in items}
    return sorted(i for i in ids if i is not None)


# Keys of a source's ``groups`` entry that describe the group itself, which the ``groups``
# table holds: left out of the link's stored JSON (with the saver's profile beyond id and
# username, they were 45% of the JSON a sources page stored, written once per save).
GROUP_OWN_KEYS = (
    "name",
    "nickname",
    "description",
    "private",
    "auto_accept_requests",
    "single_user_group",
    "modified",
    "created_at",
)


def source_links(obj_id: str, groups: list) -> tuple[list[dict], dict[str, list]]:
    """The ``sources`` rows (obj saved to each group) of one source record's ``groups``:
    each entry's link fields (group id, saved_at, saved_by as id and username, ...)."""
    raws = []
    group_ids, by_ids, by_names = [], [], []
    for g in groups or ():
        if not (type(g) is dict or isinstance(g, Mapping)) or g.get("id") is None:
            raise CacheError(f"source {obj_id}: a 'groups' entry has no group id: {g!r:.120}")
        link = dict(g)
        for key in GROUP_OWN_KEYS:
            link.pop(key, None)
        raws.append(link)
        group_ids.append(g["id"])
        saved_by = g.get("saved_by")
        if type(saved_by) is dict or isinstance(saved_by, Mapping):
            by_ids.append(saved_by.get("id"))
            by_names.append(saved_by.get("username"))
            link["saved_by"] = {"id": by_ids[-1], "username": by_names[-1]}
        else:
            by_ids.append(None)
            by_names.append(saved_by if isinstance(saved_by, str) else None)
    values = {
        "obj_id": [obj_id] * len(raws),
        "group_id": group_ids,
        "saved_by_id": by_ids,
        "saved_by": by_names,
    }
    return raws, values


def candidate_score(record: Mapping) -> float | None:
    """A candidate's score: the obj's ``score``, else the first ML score (in the order of
    ``SCORE_KEYS``) in its annotations, taken in (origin, id) order."""
    score = record.get("score")
    if _is_number(score):
        return float(score)
    annotations = sorted(
        (a for a in record.get("annotations") or [] if isinstance(a, Mapping)),
        key=lambda a: (a.get("origin") is None, a.get("origin") or "", a.get("id") or 0),
    )
    for key in SCORE_KEYS:
        for ann in annotations:
            value = (
                (ann.get("data") or {}).get(key) if isinstance(ann.get("data"), Mapping) else None
            )
            if _is_number(value):
                return float(value)
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def candidate_row(record: Mapping) -> dict:
    """The typed ``candidates`` values of one candidate record."""
    filter_ids = record.get("filter_ids") or record.get("passing_filter_ids")
    if filter_ids is None and record.get("filter_id") is not None:
        filter_ids = [record["filter_id"]]
    filter_ids = _ids(filter_ids)
    is_source = record.get("is_source")
    values = {
        "obj_id": record["id"],
        "filter_id": record.get("filter_id", filter_ids[0] if filter_ids else None),
        "filter_ids": filter_ids,
        "passing_group_ids": _ids(record.get("passing_group_ids")),
        "saved_group_ids": _ids(record.get("saved_groups")),
        "is_source": None if is_source is None else bool(is_source),
        "score": candidate_score(record),
        "passed_at": record.get("passed_at"),
        "last_detected_at": record.get("last_detected_at"),
    }
    return values


def child_values(rows: list[dict]) -> dict[str, list]:
    """Typed values of comments and annotations: the author's name and sorted group ids."""
    return {
        "author": [_username(r.get("author")) for r in rows],
        "group_ids": [_ids(r.get("groups")) for r in rows],
    }


def _col(records: list[Mapping], key: str) -> np.ndarray:
    return np.array([r.get(key) for r in records], dtype=float)


def photometry_values(records: list[Mapping]) -> dict[str, list]:
    """Magnitudes and fluxes of photometry records, whichever format the server sent.

    Flux is in the zp=23.9 AB system (microJansky); ``mag`` is NaN for a non-detection. A
    ``format=mag`` record (``mag``/``magerr``/``limiting_mag``) gets flux = 10**(-0.4 (mag -
    23.9)) and its error, or for a non-detection fluxerr = the 5-sigma limit's flux / 5; a
    ``format=flux`` record (``flux``/``fluxerr``/``zp``) is rescaled to zp 23.9 and gets
    mag = -2.5 log10(flux) + 23.9 when flux > 0 and limiting_mag from 5 fluxerr: the same
    numbers SkyPortal itself serves in the other format. Values the server sent are kept;
    only AB magnitudes convert (other systems need bandpass zero points), so for those the
    derived side stays NaN.
    """
    mag, magerr, limit = (_col(records, k) for k in ("mag", "magerr", "limiting_mag"))
    flux, fluxerr, zp = (_col(records, k) for k in ("flux", "fluxerr", "zp"))
    nsigma = _col(records, "limiting_mag_nsigma")
    nsigma = np.where(np.isfinite(nsigma) & (nsigma > 0), nsigma, LIMIT_NSIGMA)
    is_ab = np.array([str(r.get("magsys") or "ab").lower() == "ab" for r in records], dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        scale = np.where(np.isfinite(zp), 10 ** (-0.4 * (zp - PHOT_ZP)), 1.0)
        flux, fluxerr = flux * scale, fluxerr * scale  # now in the zp=23.9 system
        pos = np.isfinite(flux) & (flux > 0)
        det = np.isfinite(mag)
        flux_of_mag = np.where(det, 10 ** (-0.4 * (mag - PHOT_ZP)), np.nan)
        derived = {
            "mag": np.where(pos, -2.5 * np.log10(flux) + PHOT_ZP, np.nan),
            "magerr": np.where(pos & (fluxerr > 0), _MAG_PER_LN * fluxerr / flux, np.nan),
            "limiting_mag": np.where(
                fluxerr > 0, -2.5 * np.log10(LIMIT_NSIGMA * fluxerr) + PHOT_ZP, np.nan
            ),
            "flux": flux_of_mag,
            "fluxerr": np.where(
                det, magerr * flux_of_mag / _MAG_PER_LN, 10 ** (-0.4 * (limit - PHOT_ZP)) / nsigma
            ),
        }
    given = {"mag": mag, "magerr": magerr, "limiting_mag": limit, "flux": flux, "fluxerr": fluxerr}
    # What the server sent wins; the other format is derived, for AB magnitudes only.
    out = {
        k: np.where(np.isfinite(v), v, np.where(is_ab, derived[k], np.nan))
        for k, v in given.items()
    }
    out["zp"] = np.full(len(records), PHOT_ZP)
    out["snr"] = np.array([_snr(r) for r in records], dtype=float)
    missing_snr = ~np.isfinite(out["snr"])
    with np.errstate(divide="ignore", invalid="ignore"):
        derived = np.where(out["fluxerr"] > 0, out["flux"] / out["fluxerr"], np.nan)
    out["snr"] = np.where(missing_snr, derived, out["snr"])
    return {
        k: [None if not math.isfinite(x) else float(x) for x in v.tolist()] for k, v in out.items()
    }


def _snr(record: Mapping) -> float:
    value = record.get("snr")
    return float(value) if _is_number(value) else math.nan


def spectrum_arrays(record: Mapping) -> tuple[list | None, list | None, list | None]:
    """``wavelengths`` (Angstrom), ``fluxes`` and ``errors`` of a spectrum, checked."""
    waves, fluxes, errors = (record.get(k) for k in ("wavelengths", "fluxes", "errors"))
    if waves is None and fluxes is None:
        return None, None, None
    n = len(waves or [])
    if fluxes is None or len(fluxes) != n or (errors is not None and len(errors) != n):
        raise CacheError(
            f"spectrum {record.get('id')}: wavelengths, fluxes and errors must be arrays of one "
            f"length (got {n}, {len(fluxes or [])}, {None if errors is None else len(errors)})"
        )
    as_list = lambda a: a.tolist() if isinstance(a, np.ndarray) else list(a)  # noqa: E731
    return as_list(waves), as_list(fluxes), None if errors is None else as_list(errors)
