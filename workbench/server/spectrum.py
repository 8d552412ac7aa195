"""Deterministic synthetic spectra: a redshifted continuum with SN and host-galaxy lines.

Wavelengths are observed-frame Angstrom; fluxes are F_lambda in erg/s/cm²/Å (SkyPortal's
``units: "erg/s/cm/cm/AA"``). Lines (rest Angstrom) are shifted by ``(1 + z)``.
"""

from __future__ import annotations

import numpy as np

H_ALPHA, H_BETA, OIII, NII, SII = 6562.8, 4861.3, 5006.8, 6583.5, 6716.4
SI_II, CA_HK, FE_II = 6355.0, 3950.0, 5169.0
# instrument id -> (number of pixels, first and last wavelength in Angstrom)
GRIDS = {
    2: (1197, 3315.6, 9880.0),
    3: (220, 3800.0, 9200.0),
    4: (2300, 3200.0, 10200.0),
    9: (433, 4020.0, 7994.0),
}


def generate(
    seed: int, spectrum_id: int, kind: str, redshift: float, instrument_id: int, with_errors: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(wavelengths [Å], fluxes [erg/s/cm²/Å], errors or None) of one spectrum."""
    rng = np.random.default_rng([seed, spectrum_id, 23])
    n, lo, hi = GRIDS.get(instrument_id, GRIDS[2])
    wave = np.linspace(lo, hi, n)
    z = 0.0 if not np.isfinite(redshift) else float(redshift)
    rest = wave / (1.0 + z)
    temp = rng.uniform(6000.0, 14000.0)
    cont = _planck(rest, temp)
    cont /= cont.max()
    shape = cont * (1.0 + _lines(kind, rest, rng))
    scale = 10 ** rng.uniform(-16.5, -15.0)
    noise = rng.uniform(0.02, 0.08) * np.median(shape)
    flux = scale * (shape + rng.normal(0.0, noise, n))
    errors = np.full(n, scale * noise) if with_errors else None
    return wave, flux, errors


def _planck(wave_aa: np.ndarray, temp: float) -> np.ndarray:
    x = 1.438777e8 / (wave_aa * temp)  # hc / (lambda k T) with lambda in Angstrom
    return wave_aa**-5 / np.expm1(np.minimum(x, 700.0))


def _gauss(wave, center, sigma, amp):
    return amp * np.exp(-0.5 * ((wave - center) / sigma) ** 2)


def _lines(kind: str, rest: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros_like(rest)
    if kind == "Ia":
        vel = rng.uniform(9000.0, 13000.0) / 3e5
        out += _gauss(rest, SI_II * (1 - vel), 60.0, -0.45)
        out += _gauss(rest, CA_HK * (1 - vel), 80.0, -0.5) + _gauss(rest, FE_II, 90.0, -0.2)
    elif kind in ("II", "tde"):
        width = 90.0 if kind == "II" else 140.0
        out += _gauss(rest, H_ALPHA, width, 1.2) + _gauss(rest, H_BETA, width * 0.8, 0.5)
        out += _gauss(rest, H_ALPHA * (1 - 0.025), width * 0.6, -0.3)  # P-Cygni trough
    elif kind == "Ibc":
        out += _gauss(rest, 5876.0 * 0.97, 70.0, -0.35) + _gauss(rest, 7774.0 * 0.97, 60.0, -0.3)
    elif kind == "agn":
        out += _gauss(rest, H_ALPHA, 45.0, 1.5) + _gauss(rest, OIII, 6.0, 0.9)
    # narrow host-galaxy emission for extragalactic objects
    if kind in ("Ia", "II", "Ibc", "tde", "agn"):
        for center, amp in ((H_ALPHA, 0.35), (NII, 0.12), (OIII, 0.15), (H_BETA, 0.1), (SII, 0.06)):
            out += _gauss(rest, center, 3.0, amp)
    elif kind == "periodic":
        out += _gauss(rest, H_ALPHA, 8.0, -0.25) + _gauss(rest, H_BETA, 8.0, -0.2)
    return out
