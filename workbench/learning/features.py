"""What the learned queue knows about a candidate: numeric features read from the cache.

Every feature is listed, with its unit, in :data:`FEATURES` (the one place they are
documented; the panel shows a candidate's drivers with these units).

Features are computed **as of** the candidate's first-seen time plus ``window_days``
(default :data:`WINDOW_DAYS`): photometry and annotations later than that are ignored, so
a past candidate is described by what its scanners could see when they decided, and a
fresh one by what there is. Nothing that records a decision (saves, classifications,
comments, groups) is a feature. A feature missing for a candidate is NaN.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .labels import CANDIDATE_TIMES

WINDOW_DAYS = 2.0  # days after first seen that the features may look
LOCALIZATION_DAYS = 14.0  # a localization matters to candidates first seen this soon after


@dataclass(frozen=True)
class Feature:
    """One feature: its column name, unit and meaning."""

    name: str
    unit: str
    meaning: str


# Numeric annotation keys that alert brokers commonly attach (ZTF's Kowalski/Fritz names).
ANNOTATION_KEYS = (
    ("drb", "", "deep real-bogus score (0 bogus .. 1 real)"),
    ("braai", "", "BRAAI real-bogus score (0 .. 1)"),
    ("rb", "", "real-bogus score (0 .. 1)"),
    ("acai_h", "", "ACAI hosted-transient score (0 .. 1)"),
    ("acai_v", "", "ACAI variable-star score (0 .. 1)"),
    ("acai_o", "", "ACAI orphan score (0 .. 1)"),
    ("acai_n", "", "ACAI nuclear score (0 .. 1)"),
    ("acai_b", "", "ACAI bogus score (0 .. 1)"),
    ("sgscore1", "", "star-galaxy score of the nearest PS1 source (1 star)"),
    ("distpsnr1", "arcsec", "distance to the nearest PS1 source"),
    ("sgscore2", "", "star-galaxy score of the 2nd nearest PS1 source"),
    ("distpsnr2", "arcsec", "distance to the 2nd nearest PS1 source"),
    ("classtar", "", "SExtractor star classifier (1 star)"),
)

FEATURES: tuple[Feature, ...] = (
    Feature("score", "", "the candidate's score (the server's order: obj score or real-bogus)"),
    *(Feature(key, unit, meaning) for key, unit, meaning in ANNOTATION_KEYS),
    Feature("n_det", "", "number of >= 5 sigma detections"),
    Feature("n_nondet", "", "number of non-detections (upper limits)"),
    Feature("age", "days", "time since the first detection"),
    Feature("history", "days", "detections before first seen (first seen - first detection)"),
    Feature("rise_rate", "mag/day", "brightening rate before the brightest point (> 0 rising)"),
    Feature("fade_rate", "mag/day", "fading rate after the brightest point (> 0 fading)"),
    Feature("peak_mag", "AB mag", "brightest detected magnitude"),
    Feature("amplitude", "mag", "faintest minus brightest detected magnitude"),
    Feature("g_r", "mag", "g - r colour within 3 days of the brightest point"),
    Feature(
        "last_nondet_depth",
        "AB mag",
        "limiting magnitude of the last non-detection before the first detection",
    ),
    Feature("redshift", "", "the obj's redshift (NaN if unknown)"),
    Feature("abs_gal_lat", "deg", "absolute Galactic latitude"),
    Feature("varstar", "", "1 if the server flags the obj as a known variable star"),
    Feature("galaxy_offset", "arcsec", "distance to the nearest cached catalog galaxy"),
    Feature("galaxy_distance", "Mpc", "distance of that galaxy"),
    Feature(
        "loc_credible_level",
        "",
        "credible level in a cached GW localization of an event up to "
        f"{LOCALIZATION_DAYS:g} days before first seen (lowest over events; NaN: none)",
    ),
)
UNITS = {f.name: f.unit for f in FEATURES}

_MJD_UNIX_EPOCH = 40587.0

_SQL = f"""
WITH cand AS ({CANDIDATE_TIMES}),
c AS (SELECT obj_id, first_seen,
             first_seen + to_microseconds(CAST($w AS BIGINT)) AS as_of,
             epoch(first_seen) / 86400.0 + {_MJD_UNIX_EPOCH} AS seen_mjd,
             epoch(first_seen + to_microseconds(CAST($w AS BIGINT))) / 86400.0
                 + {_MJD_UNIX_EPOCH} AS as_of_mjd
      FROM cand WHERE first_seen IS NOT NULL{{where}}),
p AS (SELECT p.obj_id, p.mjd, p.mag, p.limiting_mag, p.filter, c.as_of_mjd, c.seen_mjd
      FROM photometry p JOIN c USING (obj_id) WHERE p.mjd <= c.as_of_mjd),
d AS (SELECT obj_id, count(*) AS n_det, min(mjd) AS first_det, min(mag) AS peak_mag,
             max(mag) - min(mag) AS amplitude, arg_min(mjd, mag) AS peak_mjd,
             any_value(as_of_mjd) - min(mjd) AS age,
             any_value(seen_mjd) - min(mjd) AS history
      FROM p WHERE mag IS NOT NULL GROUP BY obj_id),
shape AS (
    SELECT p.obj_id,
        -regr_slope(p.mag, p.mjd) FILTER (WHERE p.mjd <= d.peak_mjd) AS rise_rate,
        regr_slope(p.mag, p.mjd) FILTER (WHERE p.mjd >= d.peak_mjd) AS fade_rate,
        avg(p.mag) FILTER (WHERE p.filter LIKE '%g' AND abs(p.mjd - d.peak_mjd) <= 3)
          - avg(p.mag) FILTER (WHERE p.filter LIKE '%r' AND abs(p.mjd - d.peak_mjd) <= 3)
          AS g_r
    FROM p JOIN d USING (obj_id) WHERE p.mag IS NOT NULL GROUP BY p.obj_id),
nd AS (SELECT p.obj_id, count(*) AS n_nondet,
              arg_max(p.limiting_mag, p.mjd) FILTER (WHERE p.mjd < d.first_det)
                  AS last_nondet_depth
       FROM p LEFT JOIN d USING (obj_id) WHERE p.mag IS NULL GROUP BY p.obj_id),
ann AS (SELECT a.obj_id, {{ann_cols}}
        FROM annotations a JOIN c USING (obj_id)
        WHERE a.created_at IS NULL OR a.created_at <= c.as_of GROUP BY a.obj_id)
SELECT c.obj_id, k.score, ann.* EXCLUDE (obj_id),
       coalesce(d.n_det, 0) AS n_det, coalesce(nd.n_nondet, 0) AS n_nondet, d.age, d.history,
       shape.rise_rate, shape.fade_rate, d.peak_mag, d.amplitude, shape.g_r,
       nd.last_nondet_depth, o.redshift, abs(o.gal_lat) AS abs_gal_lat,
       CAST(o.varstar AS DOUBLE) AS varstar, o.ra, o.dec, c.first_seen
FROM c JOIN candidates k USING (obj_id) LEFT JOIN objs o ON o.id = c.obj_id
LEFT JOIN d USING (obj_id) LEFT JOIN shape USING (obj_id) LEFT JOIN nd USING (obj_id)
LEFT JOIN ann USING (obj_id)
ORDER BY c.obj_id
"""


def _ann_cols() -> str:
    return ", ".join(
        f"max(TRY_CAST(json_extract(a.data, '$.{key}') AS DOUBLE)) AS {key}"
        for key, _unit, _meaning in ANNOTATION_KEYS
    )


def candidate_features(
    wb: Any, obj_ids: Iterable[str] | None = None, *, window_days: float = WINDOW_DAYS
) -> pd.DataFrame:
    """Features of cached candidates (all, or ``obj_ids``), indexed by ``obj_id``, one
    float column per :data:`FEATURES` entry (NaN where unknown). ``wb`` is a Workbench or
    a Cache; photometry and annotations later than first seen + ``window_days`` (days) are
    ignored."""
    cache = getattr(wb, "cache", wb)
    params: dict[str, Any] = {"w": round(window_days * 86_400e6)}
    where = ""
    if obj_ids is not None:
        params["ids"] = [str(i) for i in obj_ids]
        where = " AND obj_id IN (SELECT unnest($ids))"
    sql = _SQL.format(where=where, ann_cols=_ann_cols())
    frame = cache.sql(sql, params).set_index("obj_id")
    frame = _add_galaxies(cache, frame)
    frame = _add_localizations(cache, frame)
    names = [f.name for f in FEATURES]
    return frame.reindex(columns=names).astype("float64")


def _add_galaxies(cache: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Offset (arcsec) to the nearest cached galaxy and its distance (Mpc)."""
    from scipy.spatial import cKDTree

    gal = cache.sql(
        "SELECT ra, dec, distmpc FROM galaxies WHERE ra IS NOT NULL AND dec IS NOT NULL"
    )
    frame = frame.copy()
    frame["galaxy_offset"] = np.nan
    frame["galaxy_distance"] = np.nan
    ok = frame["ra"].notna() & frame["dec"].notna()
    if gal.empty or not ok.any():
        return frame
    tree = cKDTree(_unit_vectors(gal["ra"].to_numpy(float), gal["dec"].to_numpy(float)))
    chord, nearest = tree.query(
        _unit_vectors(frame.loc[ok, "ra"].to_numpy(float), frame.loc[ok, "dec"].to_numpy(float))
    )
    frame.loc[ok, "galaxy_offset"] = np.degrees(2 * np.arcsin(np.minimum(chord / 2, 1.0))) * 3600
    frame.loc[ok, "galaxy_distance"] = gal["distmpc"].to_numpy(float)[nearest]
    return frame


def _add_localizations(cache: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Lowest credible level over the cached localizations of events that happened up to
    :data:`LOCALIZATION_DAYS` before each candidate was first seen."""
    from ..crossmatch import crossmatch
    from ..skymap import read_skymap

    frame = frame.copy()
    frame["loc_credible_level"] = np.nan
    events = cache.sql(
        "SELECT DISTINCT dateobs FROM localizations WHERE n_pixels IS NOT NULL ORDER BY dateobs"
    )
    seen = pd.to_datetime(frame["first_seen"])
    for dateobs in events["dateobs"]:
        near = (seen >= dateobs) & (seen <= dateobs + pd.Timedelta(days=LOCALIZATION_DAYS))
        near &= frame["ra"].notna() & frame["dec"].notna()
        if not near.any():
            continue
        data = cache.localization(dateobs)
        if data is None:
            continue
        level = crossmatch(
            read_skymap(data),
            frame.loc[near, "ra"].to_numpy(float),
            frame.loc[near, "dec"].to_numpy(float),
        ).credible_level
        frame.loc[near, "loc_credible_level"] = np.fmin(
            frame.loc[near, "loc_credible_level"].to_numpy(float), level
        )
    return frame


def _unit_vectors(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Cartesian unit vectors of positions (degrees)."""
    r, d = np.radians(ra), np.radians(dec)
    return np.column_stack([np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)])


def describe(name: str, value: float) -> str:
    """``name=value unit`` for a driver, e.g. ``rise_rate=0.31 mag/day``."""
    unit = UNITS.get(name, "")
    text = "nan" if not np.isfinite(value) else f"{value:.3g}"
    return f"{name}={text}{' ' + unit if unit else ''}"


__all__ = [
    "ANNOTATION_KEYS",
    "FEATURES",
    "UNITS",
    "WINDOW_DAYS",
    "Feature",
    "candidate_features",
    "describe",
]
