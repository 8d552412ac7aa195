"""Spectral lines used to type supernovae and to read host-galaxy spectra, and telluric bands.

Every rest wavelength here is in Angstrom, **in air** (the convention of optical spectra above
2000 A; below 2000 A air and vacuum are taken as equal). :func:`air_to_vacuum` and
:func:`vacuum_to_air` convert with the Morton (2000) / Ciddor refractive index, as the IAU and
VALD do. A line at redshift ``z`` is seen at ``observed = rest * (1 + z)``.

Blends are listed the way spectroscopists name them (Si II 6355 is the 6347/6371 doublet,
O I 7774 the 7772-7775 triplet); their wavelength is the usual blend value, flagged ``blend``.
Telluric bands are observed-frame (the Earth's atmosphere does not redshift) and approximate:
the extent of strong absorption at a typical observatory, for shading, not for correction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import WorkbenchError

__all__ = [
    "LINES",
    "LINE_SETS",
    "TELLURIC_BANDS",
    "SpectralLine",
    "TelluricBand",
    "air_to_vacuum",
    "check_redshift",
    "line_set",
    "observed_wavelength",
    "rest_wavelength",
    "vacuum_to_air",
]


@dataclass(frozen=True)
class SpectralLine:
    """A line: ``name`` as labelled on plots, ``species`` (element and ion), ``rest``
    wavelength (Angstrom, air), and whether the value is that of a ``blend``."""

    name: str
    species: str
    rest: float
    blend: bool = False

    def observed(self, z: float) -> float:
        """Observed wavelength (Angstrom, air) at redshift ``z``."""
        return observed_wavelength(self.rest, z)


@dataclass(frozen=True)
class TelluricBand:
    """An atmospheric absorption band: observed-frame ``start``..``end`` (Angstrom, air)."""

    name: str
    start: float
    end: float


_L = SpectralLine
LINES: tuple[SpectralLine, ...] = (
    _L("Hα", "H I", 6562.79),
    _L("Hβ", "H I", 4861.35),
    _L("Hγ", "H I", 4340.47),
    _L("Hδ", "H I", 4101.73),
    _L("Hε", "H I", 3970.07),
    _L("He I 3889", "He I", 3888.65),
    _L("He I 4471", "He I", 4471.48),
    _L("He I 5016", "He I", 5015.68),
    _L("He I 5876", "He I", 5875.62),
    _L("He I 6678", "He I", 6678.15),
    _L("He I 7065", "He I", 7065.19),
    _L("He I 10830", "He I", 10830.25),
    _L("He II 4686", "He II", 4685.71),
    _L("He II 5411", "He II", 5411.52),
    _L("Ca II K", "Ca II", 3933.66),
    _L("Ca II H", "Ca II", 3968.47),
    _L("Ca II 8498", "Ca II", 8498.02),
    _L("Ca II 8542", "Ca II", 8542.09),
    _L("Ca II 8662", "Ca II", 8662.14),
    _L("[Ca II] 7291", "[Ca II]", 7291.47),
    _L("[Ca II] 7324", "[Ca II]", 7323.89),
    _L("Na I D2", "Na I", 5889.95),
    _L("Na I D1", "Na I", 5895.92),
    _L("O I 7774", "O I", 7773.4, blend=True),
    _L("O I 8446", "O I", 8446.36),
    _L("[O I] 6300", "[O I]", 6300.30),
    _L("[O I] 6364", "[O I]", 6363.78),
    _L("[O II] 3726", "[O II]", 3726.03),
    _L("[O II] 3729", "[O II]", 3728.82),
    _L("[O III] 4363", "[O III]", 4363.21),
    _L("[O III] 4959", "[O III]", 4958.91),
    _L("[O III] 5007", "[O III]", 5006.84),
    _L("[N II] 6548", "[N II]", 6548.05),
    _L("[N II] 6583", "[N II]", 6583.45),
    _L("Si II 4130", "Si II", 4130.0, blend=True),
    _L("Si II 5972", "Si II", 5972.0, blend=True),
    _L("Si II 6355", "Si II", 6355.0, blend=True),
    _L("S II 5454", "S II", 5453.9, blend=True),
    _L("S II 5640", "S II", 5640.0, blend=True),
    _L("[S II] 6716", "[S II]", 6716.44),
    _L("[S II] 6731", "[S II]", 6730.82),
    _L("Fe II 4924", "Fe II", 4923.92),
    _L("Fe II 5018", "Fe II", 5018.44),
    _L("Fe II 5169", "Fe II", 5169.03),
    _L("Mg II 2798", "Mg II", 2798.75, blend=True),
    _L("Mg II 4481", "Mg II", 4481.2, blend=True),
    _L("Mg I] 4571", "Mg I]", 4571.10),
    _L("C II 6580", "C II", 6578.05),
    _L("C II 7234", "C II", 7234.0, blend=True),
)

_BY_NAME = {line.name: line for line in LINES}

LINE_SETS: dict[str, tuple[str, ...]] = {
    # What a classifier looks for in a young supernova (Ia: Si, S, Ca; Ib/c: He, O; II: H).
    "sn": (
        "Hα", "Hβ", "Hγ", "Hδ", "He I 5876", "He I 6678", "He I 7065", "He II 4686",
        "Ca II K", "Ca II H", "Ca II 8542", "Na I D2", "O I 7774", "Si II 4130",
        "Si II 5972", "Si II 6355", "S II 5454", "S II 5640", "Fe II 5169", "C II 6580",
        "Mg II 4481",
    ),
    # Host-galaxy emission and absorption for a redshift.
    "galaxy": (
        "Hα", "Hβ", "Hγ", "[O II] 3726", "[O III] 4959", "[O III] 5007", "[N II] 6548",
        "[N II] 6583", "[S II] 6716", "[S II] 6731", "Na I D2", "Ca II K", "Ca II H",
    ),
    # Late-time (nebular) spectra of core-collapse and thermonuclear supernovae.
    "nebular": (
        "Hα", "[O I] 6300", "[O I] 6364", "[Ca II] 7291", "[Ca II] 7324", "Mg I] 4571",
        "Na I D2", "Ca II 8542", "O I 7774",
    ),
    "all": tuple(_BY_NAME),
}  # fmt: skip

TELLURIC_BANDS: tuple[TelluricBand, ...] = (
    TelluricBand("O₂ B", 6865.0, 6935.0),
    TelluricBand("H₂O", 7165.0, 7330.0),
    TelluricBand("O₂ A", 7590.0, 7700.0),
    TelluricBand("H₂O", 8105.0, 8340.0),
    TelluricBand("H₂O", 8950.0, 9800.0),
)


def line_set(lines: str | Iterable[str | SpectralLine] | None) -> tuple[SpectralLine, ...]:
    """Resolve a line set name (``'sn'``, ``'galaxy'``, ``'nebular'``, ``'all'``), a list of
    line names or :class:`SpectralLine` objects, or None (no lines)."""
    if lines is None:
        return ()
    if isinstance(lines, str):
        if lines not in LINE_SETS:
            raise WorkbenchError(
                f"unknown line set {lines!r}; choose one of {sorted(LINE_SETS)} or pass line names"
            )
        return tuple(_BY_NAME[name] for name in LINE_SETS[lines])
    out = []
    for item in lines:
        if isinstance(item, SpectralLine):
            out.append(item)
        elif item in _BY_NAME:
            out.append(_BY_NAME[item])
        else:
            raise WorkbenchError(f"unknown line {item!r}; known lines: {', '.join(_BY_NAME)}")
    return tuple(out)


def check_redshift(z: float) -> float:
    """``z`` as a float, refused unless finite and above -1 (a blueshift is allowed)."""
    try:
        value = float(z)
    except (TypeError, ValueError) as exc:
        raise WorkbenchError(f"redshift must be a number, not {z!r}") from exc
    if not math.isfinite(value) or value <= -1.0:
        raise WorkbenchError(f"redshift must be finite and greater than -1, not {z!r}")
    return value


def observed_wavelength(rest: float | np.ndarray, z: float) -> float | np.ndarray:
    """Observed wavelength of light emitted at ``rest`` (Angstrom) from redshift ``z``."""
    return rest * (1.0 + check_redshift(z))


def rest_wavelength(observed: float | np.ndarray, z: float) -> float | np.ndarray:
    """Rest-frame wavelength (Angstrom) of light observed at ``observed`` from redshift ``z``."""
    return observed / (1.0 + check_redshift(z))


def vacuum_to_air(wavelength: float | Sequence[float] | np.ndarray) -> np.ndarray | float:
    """Air wavelength (Angstrom) of a vacuum wavelength (Morton 2000); unchanged below 2000 A."""
    lam = np.asarray(wavelength, dtype=float)
    s2 = (1e4 / lam) ** 2
    n = 1.0 + 0.0000834254 + 0.02406147 / (130.0 - s2) + 0.00015998 / (38.9 - s2)
    out = np.where(lam >= 2000.0, lam / n, lam)
    return float(out) if out.ndim == 0 else out


def air_to_vacuum(wavelength: float | Sequence[float] | np.ndarray) -> np.ndarray | float:
    """Vacuum wavelength (Angstrom) of an air wavelength (the inverse of :func:`vacuum_to_air`,
    as given by N. Piskunov for VALD); unchanged below 2000 A."""
    lam = np.asarray(wavelength, dtype=float)
    s2 = (1e4 / lam) ** 2
    n = (
        1.0
        + 0.00008336624212083
        + 0.02408926869968 / (130.1065924522 - s2)
        + 0.0001599740894897 / (38.92568793293 - s2)
    )
    out = np.where(lam >= 2000.0, lam * n, lam)
    return float(out) if out.ndim == 0 else out
