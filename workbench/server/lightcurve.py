"""Deterministic synthetic light curves, generated per object on demand.

Fluxes are in the zp=23.9 AB system (microJansky), as SkyPortal's ``format=flux``:
``flux = 10**(-0.4 * (mag - 23.9))``. Each epoch has a 5-sigma limiting magnitude;
``fluxerr`` is the flux at that limit over 5, so a point is a detection when
``flux / fluxerr >= 5`` and otherwise an upper limit (``mag`` null, ``limiting_mag`` set),
which is how the captured ZTF21aaqjmps photometry relates its fields.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ZP = 23.9
DETECTION_SNR = 5.0
FILTERS = np.array(["ztfg", "ztfr", "ztfi"])
# colour offsets (mag) and decline-time stretch per filter, for transients
_COLOR = np.array([0.0, 0.1, 0.35])
_STRETCH = np.array([0.8, 1.0, 1.25])


@dataclass(frozen=True)
class LightCurve:
    """Photometry arrays of one object, in time order (mjd in MJD, flux in µJy)."""

    mjd: np.ndarray
    band: np.ndarray  # index into FILTERS
    flux: np.ndarray
    fluxerr: np.ndarray

    @property
    def detected(self) -> np.ndarray:
        """True where the point is a >= 5 sigma detection."""
        return self.flux / self.fluxerr >= DETECTION_SNR

    @property
    def mag(self) -> np.ndarray:
        """AB magnitude of detections, NaN for upper limits."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.detected, ZP - 2.5 * np.log10(self.flux), np.nan)

    @property
    def magerr(self) -> np.ndarray:
        """1-sigma magnitude error of detections (2.5/ln10 / SNR), NaN for upper limits."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.detected, 2.5 / np.log(10) * self.fluxerr / self.flux, np.nan)

    @property
    def limiting_mag(self) -> np.ndarray:
        """5-sigma limiting AB magnitude of each epoch."""
        return ZP - 2.5 * np.log10(DETECTION_SNR * self.fluxerr)


def generate(
    seed: int,
    index: int,
    kind: str,
    n: int,
    start: float,
    end: float,
    peak_mjd: float,
    peak_mag: float,
    period: float,
    *,
    i_band: bool = True,
) -> LightCurve:
    """``n`` points between MJD ``start`` and ``end`` for an object of class ``kind``.

    ``i_band=False`` keeps to ztfg/ztfr (ZTF public data has no i band).
    """
    rng = np.random.default_rng([seed, index, 11])
    if kind == "afterglow":
        return _afterglow(rng, n, start, peak_mjd, peak_mag)
    nights = np.sort(rng.uniform(start, end, n))
    mjd = np.floor(nights) + 0.15 + 0.3 * rng.random(n)  # night-time at Palomar
    mjd = np.sort(mjd)
    band = rng.choice(3, size=n, p=[0.46, 0.46, 0.08] if i_band else [0.5, 0.5, 0.0])
    limit = np.clip(rng.normal(20.4, 0.45, n), 18.6, 21.4)
    model = _model_mag(rng, kind, mjd, band, peak_mjd, peak_mag, period)
    true_flux = 10 ** (-0.4 * (model - ZP))
    fluxerr = 10 ** (-0.4 * (limit - ZP)) / DETECTION_SNR
    fluxerr = np.hypot(fluxerr, 0.01 * true_flux)  # 1% calibration floor
    flux = true_flux + rng.normal(0.0, 1.0, n) * fluxerr
    return LightCurve(mjd=mjd, band=band, flux=flux, fluxerr=fluxerr)


def _afterglow(
    rng: np.random.Generator, n: int, start: float, first_mjd: float, first_mag: float
) -> LightCurve:
    """A fast-fading (kilonova-/afterglow-like) transient as a survey sees it.

    Two pre-event visits, on the night of MJD ``start`` and two nights later (5-sigma
    limits ~20.6 and ~21.3: the last one deeper than the first detection), then g and r
    every night from its first detection at ``first_mjd`` (r = ``first_mag``, g 0.05-0.2
    mag bluer) while it fades linearly in magnitude: r 0.35-0.6 mag/day, g 0.15-0.35
    mag/day faster (reddening, as a kilonova does). ``n`` points: 4 pre-event, then
    pairs; the source gives no flux before the night of its first detection.
    """
    nights = max((n - 4) // 2, 0)
    night0 = np.floor(start)
    pre = np.repeat(night0 + np.array([0.0, 2.0]), 2) + np.array([0.0, 0.02, 0.0, 0.02])
    pre += np.repeat(rng.uniform(0.15, 0.4, 2), 2)  # night-time at Palomar
    post_night = np.floor(first_mjd) + np.arange(nights, dtype=float)
    post = np.repeat(post_night, 2) + np.tile([0.0, 0.02], nights)
    post += np.repeat(np.r_[first_mjd % 1.0, rng.uniform(0.18, 0.4, nights - 1)], 2)[: 2 * nights]
    mjd = np.r_[pre, post][:n]
    band = np.tile([1, 0], len(mjd) // 2 + 1)[: len(mjd)]  # r first, then g (FILTERS index)
    limit = np.r_[
        rng.normal([20.6, 20.6, 21.3, 21.3], 0.08),
        np.clip(rng.normal(20.9, 0.15, 2 * nights), 20.5, 21.3),
    ][: len(mjd)]
    rate_r = rng.uniform(0.35, 0.6)
    rate = np.where(band == 0, rate_r + rng.uniform(0.15, 0.35), rate_r)
    color = np.where(band == 0, -rng.uniform(0.05, 0.2), 0.0)
    on = mjd >= np.floor(first_mjd)
    model = first_mag + color + rate * (mjd - first_mjd)
    true_flux = np.where(on, 10 ** (-0.4 * (model - ZP)), 0.0)
    fluxerr = 10 ** (-0.4 * (limit - ZP)) / DETECTION_SNR
    fluxerr = np.hypot(fluxerr, 0.01 * true_flux)
    flux = true_flux + np.clip(rng.normal(0.0, 1.0, len(mjd)), -2.0, 2.0) * fluxerr
    return LightCurve(mjd=mjd, band=band, flux=flux, fluxerr=fluxerr)


def _model_mag(rng, kind, mjd, band, peak_mjd, peak_mag, period) -> np.ndarray:
    if kind in ("Ia", "II", "Ibc", "tde"):
        rise, fall = {
            "Ia": (4.0, 18.0),
            "II": (3.0, 60.0),
            "Ibc": (2.5, 14.0),
            "tde": (10.0, 45.0),
        }[kind]
        fall = fall * _STRETCH[band]
        # Bazin-style rise and exponential decline whose maximum falls on peak_mjd
        t_max = rise * np.log(fall / rise - 1.0)
        u = mjd - peak_mjd + t_max
        shape = np.exp(-u / fall) / (1.0 + np.exp(-u / rise))
        norm = np.exp(-t_max / fall) / (1.0 + np.exp(-t_max / rise))
        return peak_mag + _COLOR[band] - 2.5 * np.log10(np.maximum(shape / norm, 1e-12))
    if kind == "periodic":
        phase = (mjd / period + rng.random()) % 1.0
        amp = rng.uniform(0.2, 0.9)
        return peak_mag + _COLOR[band] / 2 + amp * (phase - 0.5) * (1 if rng.random() < 0.5 else -1)
    if kind == "agn":
        steps = rng.normal(0.0, 0.06, len(mjd))
        walk = np.cumsum(steps) - np.cumsum(steps).mean()
        return peak_mag + 0.2 * _COLOR[band] + walk
    # "bogus": a flickering artefact near the detection limit
    return 20.0 + rng.normal(0.0, 0.5, len(mjd))
