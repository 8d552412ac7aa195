"""Seeded photometry as columns: fast ``/api/photometry/range`` and per-object answers.

A first sync reads every light curve through ``/api/photometry/range`` in windows of
~20,000 points. Generating each overlapping object's points as dicts per window made the
server regenerate a light curve ~100 times at 10^5 sources (~4 s a window on this
machine). :class:`PhotIndex` instead generates each seeded light curve once, when a
window first reaches its ``lc_start``, keeps its points as compact numpy columns sorted
by MJD (~33 bytes a point), and answers a window with a binary search per chunk and the
records built from column slices. Values come from the same :class:`LightCurve`
properties as the per-object path, so the answers are the same bytes.

Posted photometry, deleted points and objects created after the index was started take
the per-object path (:meth:`Store.photometry`), as before; seeded light curves never
change once generated (no mutation touches ``n_phot``/``lc_*``/``gen``).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import lightcurve
from .lightcurve import ZP, LightCurve
from .photrec import PHOT_GROUPS
from .records import group_brief

_EPOCH_US = np.datetime64(0, "us")


@dataclass(frozen=True)
class _Chunk:
    """Points of a batch of objects, sorted by MJD (then object, then point number)."""

    mjd: np.ndarray  # float64, MJD
    obj: np.ndarray  # int32, object index
    k: np.ndarray  # int32, the point's number in its light curve
    band: np.ndarray  # int8, index into lightcurve.FILTERS
    flux: np.ndarray  # float64, µJy (zp=23.9)
    fluxerr: np.ndarray  # float64, µJy


def iso_column(us: np.ndarray) -> list[str]:
    """:func:`timeutil.iso` of each epoch-microsecond value (no fraction when it is 0)."""
    text = np.datetime_as_string(_EPOCH_US + us.astype("timedelta64[us]"), unit="us").tolist()
    whole = np.flatnonzero(us % 1_000_000 == 0)
    for i in whole.tolist():  # isoformat() drops a zero fraction
        text[i] = text[i][:19]
    return text


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Defer the cyclic GC while tens of thousands of acyclic dicts are made: otherwise
    each few hundred allocations start a collection, and the older generations' passes
    scan the whole server heap (a 25,000-point window: 125-290 ms -> 57-82 ms at 10^5
    sources). The GC is left as it was found (another thread may have paused it too)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def records(
    store,
    obj: np.ndarray,
    k: np.ndarray,
    band: np.ndarray,
    mjd: np.ndarray,
    flux: np.ndarray,
    fluxerr: np.ndarray,
    fmt: str,
) -> list[dict[str, Any]]:
    """:func:`photrec.record` of seeded points given as columns (one dict per point).

    ``obj`` object indices, ``k`` the points' numbers in their light curves, ``band``
    filter indices, ``mjd`` MJD, ``flux``/``fluxerr`` µJy; ``fmt`` ``"mag"`` or ``"flux"``.
    """
    if len(obj) == 0:
        return []
    o = store.objs
    lc = LightCurve(mjd=mjd, band=band, flux=flux, fluxerr=fluxerr)
    det = lc.detected
    pid = (o["phot_base"][obj] + k + 1).tolist()
    created = iso_column(o["created"][obj] + 1000 * (k.astype(np.int64) + 1))
    names = o["id"][obj].tolist()
    filters = lightcurve.FILTERS[band].tolist()
    groups = [group_brief(store, g) for g in PHOT_GROUPS if g in store.groups]
    with np.errstate(invalid="ignore", divide="ignore"):
        snr = np.where(det, flux / fluxerr, np.nan)

    def nullable(values: np.ndarray) -> list[float | None]:
        out = values.tolist()
        for i in np.flatnonzero(~np.isfinite(values)).tolist():
            out[i] = None
        return out

    head = zip(names, filters, mjd.tolist(), nullable(snr), pid, created, strict=True)
    with _gc_paused():
        return _dicts(head, fmt, det, flux, fluxerr, lc, groups, nullable)


def _dicts(head, fmt, det, flux, fluxerr, lc, groups, nullable) -> list[dict[str, Any]]:
    """The record dicts, keys in ``photrec.record``'s order."""
    if fmt == "flux":
        tail = zip(nullable(np.where(det, flux, np.nan)), nullable(fluxerr), strict=True)
        return [
            {
                "obj_id": name,
                "ra": None,
                "dec": None,
                "filter": band_name,
                "mjd": t,
                "snr": s,
                "instrument_id": 1,
                "instrument_name": "ZTF",
                "ra_unc": None,
                "dec_unc": None,
                "origin": "None",
                "id": i,
                "altdata": None,
                "created_at": c,
                "groups": groups,
                "flux": f,
                "magsys": "ab",
                "zp": ZP,
                "fluxerr": fe,
            }
            for (name, band_name, t, s, i, c), (f, fe) in zip(head, tail, strict=True)
        ]
    tail = zip(nullable(lc.mag), nullable(lc.magerr), nullable(lc.limiting_mag), strict=True)
    return [
        {
            "obj_id": name,
            "ra": None,
            "dec": None,
            "filter": band_name,
            "mjd": t,
            "snr": s,
            "instrument_id": 1,
            "instrument_name": "ZTF",
            "ra_unc": None,
            "dec_unc": None,
            "origin": "None",
            "id": i,
            "altdata": None,
            "created_at": c,
            "groups": groups,
            "mag": m,
            "magerr": me,
            "magsys": "ab",
            "limiting_mag": lim,
        }
        for (name, band_name, t, s, i, c), (m, me, lim) in zip(head, tail, strict=True)
    ]


def object_records(store, idx: int, fmt: str) -> list[dict[str, Any]] | None:
    """The object's photometry records in (MJD, id) order, from its seeded light curve.

    None when the per-object path must answer: posted or deleted points.
    """
    if idx in store.phot_added or _has_deleted(store, idx):
        return None
    lc = store.seeded_curve(idx)
    if lc is None:
        return []
    k = np.lexsort((np.arange(len(lc.mjd)), lc.mjd)).astype(np.int32)  # by (mjd, id)
    obj = np.full(len(k), idx, dtype=np.int64)
    return records(store, obj, k, lc.band[k], lc.mjd[k], lc.flux[k], lc.fluxerr[k], fmt)


def _has_deleted(store, idx: int) -> bool:
    if not store.phot_deleted:
        return False
    base = int(store.objs["phot_base"][idx])
    top = base + int(store.objs["n_phot"][idx])
    return any(base < pid <= top for pid in store.phot_deleted)


# A seeded point's MJD may fall outside its light curve's [lc_start, lc_end] (each visit is
# put in the night of its draw: up to a day before the start, half a day after the end).
# Objects are picked with this margin; the points themselves by their own MJD, as SkyPortal
# filters photometry on each point's date.
POINT_MARGIN_DAYS = 2.0


class PhotIndex:
    """Every seeded point of the objects that existed when it was made, by MJD.

    Light curves are generated in ``lc_start`` order as windows reach them, so the first
    windows of a sync cost little and no curve is generated twice. Memory: ~33 bytes a
    point (~350 MB for 10^5 sources of ~100 points).
    """

    def __init__(self, store) -> None:
        o = store.objs
        self.covered = len(o)  # objects [0, covered) are indexed here
        gen = np.flatnonzero(o["gen"] & (o["n_phot"] > 0))
        self.order = gen[np.argsort(o["lc_start"][gen], kind="stable")]
        self.starts = o["lc_start"][self.order]
        self.built = 0  # objects of ``order`` generated so far
        self.chunks: list[_Chunk] = []

    def _extend(self, store, hi_mjd: float) -> None:
        """Generate the light curves of every object with ``lc_start <= hi_mjd``."""
        need = int(np.searchsorted(self.starts, hi_mjd, side="right"))
        if need <= self.built:
            return
        parts = []
        for idx in self.order[self.built : need].tolist():
            lc = store.seeded_curve(idx)
            n = len(lc.mjd)
            parts.append(
                (
                    lc.mjd,
                    np.full(n, idx, dtype=np.int32),
                    np.arange(n, dtype=np.int32),
                    lc.band.astype(np.int8),
                    lc.flux,
                    lc.fluxerr,
                )
            )
        cols = [np.concatenate(c) for c in zip(*parts, strict=True)]
        by_time = np.lexsort((cols[2], cols[1], cols[0]))
        self.chunks.append(_Chunk(*(c[by_time] for c in cols)))
        self.built = need

    def window(self, store, lo_mjd: float, hi_mjd: float) -> tuple[np.ndarray, ...]:
        """Columns (obj, k, band, mjd, flux, fluxerr) of the seeded points with ``lo <=
        mjd <= hi`` (each point by its own date), ordered by object, MJD and id (the order
        the per-object path answers in)."""
        self._extend(store, hi_mjd + POINT_MARGIN_DAYS)
        pieces = []
        for chunk in self.chunks:
            a = int(np.searchsorted(chunk.mjd, lo_mjd, side="left"))
            b = int(np.searchsorted(chunk.mjd, hi_mjd, side="right"))
            if b > a:
                pieces.append(
                    (
                        chunk.obj[a:b],
                        chunk.k[a:b],
                        chunk.band[a:b],
                        chunk.mjd[a:b],
                        chunk.flux[a:b],
                        chunk.fluxerr[a:b],
                    )
                )
        if not pieces:
            empty = np.zeros(0)
            return (
                empty.astype(np.int64),
                empty.astype(np.int32),
                empty.astype(np.int8),
                empty,
                empty,
                empty,
            )
        obj, k, band, mjd, flux, fluxerr = (np.concatenate(c) for c in zip(*pieces, strict=True))
        o = store.objs
        keep = np.ones(len(obj), dtype=bool)
        if store.phot_added:
            keep &= ~np.isin(obj, np.fromiter(store.phot_added, dtype=np.int64))
        if store.phot_deleted:
            pid = o["phot_base"][obj] + k + 1
            keep &= ~np.isin(pid, np.fromiter(store.phot_deleted, dtype=np.int64))
        obj, k, band, mjd, flux, fluxerr = (c[keep] for c in (obj, k, band, mjd, flux, fluxerr))
        order = np.lexsort((k, mjd, obj))  # ids grow with k within an object
        return (
            obj[order].astype(np.int64),
            k[order],
            band[order],
            mjd[order],
            flux[order],
            fluxerr[order],
        )
