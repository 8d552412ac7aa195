"""Photometry records (``format=mag`` / ``format=flux``) and SkyPortal's ``photstats``.

Points are kept in the zp=23.9 flux system (µJy); magnitudes are AB. Non-detections
have ``mag``/``flux`` null and a 5-sigma ``limiting_mag``/``fluxerr``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .lightcurve import ZP
from .records import group_brief, num
from .timeutil import iso

PHOT_GROUPS = (1, 2)


def record(
    store,
    idx: int,
    p: dict[str, Any],
    fmt: str = "mag",
    *,
    annotations: bool = False,
    both: bool = False,
) -> dict[str, Any]:
    """One photometry point; ``both`` gives the mag and flux keys (source includePhotometry)."""
    out = {
        "obj_id": store.objs["id"][idx],
        "ra": num(p.get("ra")),
        "dec": num(p.get("dec")),
        "filter": p["filter"],
        "mjd": p["mjd"],
        "snr": num(p.get("snr")),
        "instrument_id": p.get("instrument_id", 1),
        "instrument_name": p.get("instrument_name", "ZTF"),
        "ra_unc": None,
        "dec_unc": None,
        "origin": p.get("origin") or "None",
        "id": p["id"],
        "altdata": p.get("altdata"),
        "created_at": iso(p["created"]),
        "groups": [
            group_brief(store, g) for g in p.get("group_ids") or PHOT_GROUPS if g in store.groups
        ],
    }
    if annotations:
        out["annotations"] = []
    if fmt == "flux" and not both:
        out.update(
            {"flux": num(p.get("flux")), "magsys": "ab", "zp": ZP, "fluxerr": num(p.get("fluxerr"))}
        )
        return out
    out.update(
        {
            "mag": num(p.get("mag")),
            "magerr": num(p.get("magerr")),
            "magsys": "ab",
            "limiting_mag": num(p.get("limiting_mag")),
        }
    )
    if both:
        out.update({"flux": num(p.get("flux")), "zp": ZP, "fluxerr": num(p.get("fluxerr"))})
    return out


def from_post(item: dict[str, Any]) -> dict[str, Any]:
    """Internal point fields from one posted photometry item (mag or flux form).

    Raises ``ValueError`` naming the missing or bad field.
    """
    try:
        mjd = float(item["mjd"])
        band = str(item["filter"])
    except KeyError as exc:
        raise ValueError(f"missing required field {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise ValueError(f"invalid mjd: {item.get('mjd')!r}") from exc
    zp = float(item.get("zp") or ZP)
    out: dict[str, Any] = {
        "mjd": mjd,
        "filter": band,
        "instrument_id": int(item.get("instrument_id") or 1),
        "origin": item.get("origin"),
        "ra": item.get("ra"),
        "dec": item.get("dec"),
        "altdata": item.get("altdata"),
        "group_ids": item.get("group_ids"),
    }
    if "flux" in item or "fluxerr" in item:
        fluxerr = float(item["fluxerr"]) * 10 ** (-0.4 * (zp - ZP))
        flux = item.get("flux")
        flux = None if flux is None else float(flux) * 10 ** (-0.4 * (zp - ZP))
        snr = None if flux is None else flux / fluxerr
        detected = snr is not None and snr >= 5
        out.update(
            flux=flux if detected else None,
            fluxerr=fluxerr,
            mag=ZP - 2.5 * np.log10(flux) if detected else None,
            magerr=2.5 / np.log(10) / snr if detected else None,
            limiting_mag=ZP - 2.5 * np.log10(5 * fluxerr),
            snr=snr if detected else None,
        )
        return out
    if "limiting_mag" not in item:
        raise ValueError("missing required field 'limiting_mag' (or give flux/fluxerr)")
    lim = float(item["limiting_mag"])
    fluxerr = 10 ** (-0.4 * (lim - ZP)) / 5
    mag = item.get("mag")
    if mag is None:
        out.update(flux=None, fluxerr=fluxerr, mag=None, magerr=None, limiting_mag=lim, snr=None)
    else:
        flux = 10 ** (-0.4 * (float(mag) - ZP))
        magerr = float(item.get("magerr") or 0.1)
        out.update(
            flux=flux,
            fluxerr=magerr * flux * np.log(10) / 2.5,
            mag=float(mag),
            magerr=magerr,
            limiting_mag=lim,
            snr=2.5 / np.log(10) / magerr,
        )
    return out


def photstats(store, idx: int, points: list[dict[str, Any]]) -> dict[str, Any]:
    """SkyPortal's PhotStat summary of an object's light curve (mag AB, MJD)."""
    det = [p for p in points if p.get("mag") is not None]
    nondet = [p for p in points if p.get("mag") is None]
    bands = sorted({p["filter"] for p in points})
    per = {b: [p for p in det if p["filter"] == b] for b in bands}

    def stat(fn, pts):
        return fn([p["mag"] for p in pts]) if pts else None

    first = det[0] if det else None
    last = det[-1] if det else None
    peak = min(det, key=lambda p: p["mag"]) if det else None
    before = [p["mjd"] for p in nondet if first and p["mjd"] < first["mjd"]]
    mags = np.array([p["mag"] for p in det]) if det else np.array([])
    stamp = iso(int(store.objs["modified"][idx]))
    rise = decay = None
    if peak and first and peak["mjd"] > first["mjd"]:
        rise = (first["mag"] - peak["mag"]) / (peak["mjd"] - first["mjd"])
    if peak and last and last["mjd"] > peak["mjd"]:
        decay = (peak["mag"] - last["mag"]) / (last["mjd"] - peak["mjd"])
    means = {b: float(np.mean([p["mag"] for p in v])) for b, v in per.items() if v}
    colors = {}
    for a in means:
        for b in means:
            if a != b:
                colors[f"{a}-{b}"] = means[a] - means[b]
    limits = [p["limiting_mag"] for p in nondet if p.get("limiting_mag") is not None]
    return {
        "num_det_no_forced_phot_global": len(det),
        "first_detected_no_forced_phot_mjd": first["mjd"] if first else None,
        "last_non_detection_mjd": max(before) if before else None,
        "peak_mag_per_filter": {b: stat(min, v) for b, v in per.items() if v},
        "mag_rms_per_filter": {
            b: float(np.std([p["mag"] for p in v])) for b, v in per.items() if v
        },
        "num_det_per_filter": {b: len(v) for b, v in per.items() if v},
        "first_detected_no_forced_phot_mag": first["mag"] if first else None,
        "time_to_non_detection": (first["mjd"] - max(before)) if before else None,
        "faintest_mag_global": float(mags.max()) if det else None,
        "id": idx + 1,
        "first_detected_mjd": first["mjd"] if first else None,
        "first_detected_no_forced_phot_filter": first["filter"] if first else None,
        "mean_mag_global": float(mags.mean()) if det else None,
        "faintest_mag_per_filter": {b: stat(max, v) for b, v in per.items() if v},
        "modified": stamp,
        "last_full_update": stamp,
        "first_detected_mag": first["mag"] if first else None,
        "last_detected_no_forced_phot_mjd": last["mjd"] if last else None,
        "mean_mag_per_filter": means,
        "deepest_limit_global": max(limits) if limits else None,
        "created_at": iso(int(store.objs["created"][idx])),
        "obj_id": store.objs["id"][idx],
        "first_detected_filter": first["filter"] if first else None,
        "last_detected_no_forced_phot_mag": last["mag"] if last else None,
        "mean_color": colors,
        "deepest_limit_per_filter": {
            b: max(p["limiting_mag"] for p in nondet if p["filter"] == b)
            for b in bands
            if any(p["filter"] == b for p in nondet)
        },
        "last_update": stamp,
        "last_detected_mjd": last["mjd"] if last else None,
        "last_detected_no_forced_phot_filter": last["filter"] if last else None,
        "peak_mjd_global": peak["mjd"] if peak else None,
        "rise_rate": rise,
        "num_obs_global": len(points),
        "num_obs_per_filter": {b: sum(p["filter"] == b for p in points) for b in bands},
        "last_detected_mag": last["mag"] if last else None,
        "recent_obs_mjd": points[-1]["mjd"] if points else None,
        "peak_mjd_per_filter": {
            b: min(v, key=lambda p: p["mag"])["mjd"] for b, v in per.items() if v
        },
        "decay_rate": decay,
        "num_det_global": len(det),
        "last_detected_filter": last["filter"] if last else None,
        "predetection_mjds": before,
        "peak_mag_global": peak["mag"] if peak else None,
        "mag_rms_global": float(mags.std()) if det else None,
    }
