"""Colours for photometric filters and for overlaid spectra.

Filters get the colours astronomers expect from survey plots: green g, red r, a goldenrod i,
ATLAS cyan and orange, bluer for u/B/UV, browner and darker for z/y and the infrared. Names are
SkyPortal's bandpass names (``ztfg``, ``sdssr``, ``ps1::i``, ``atlasc``, ``bessellv``, ...).
A name not in the table is matched by its band letter after a known survey prefix
(``lsstg`` -> g, ``decam_r`` -> r), and anything else gets a colour from a fallback palette
chosen by a CRC32 of the name, so a filter keeps its colour across plots, sessions and machines
(Python's ``hash()`` changes between runs).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable

__all__ = ["FALLBACK_PALETTE", "FILTER_COLORS", "SPECTRUM_PALETTE", "filter_color", "filter_colors"]

# Band letter -> colour, shared by all surveys that use the band.
_BAND_COLORS = {
    "uvw2": "#4b0082",
    "uvm2": "#5b0a91",
    "uvw1": "#6a0dad",
    "u": "#7b3294",
    "b": "#1f4fd8",
    "g": "#2ca02c",
    "v": "#8fbc1e",
    "c": "#17becf",  # ATLAS cyan (g+r)
    "w": "#555555",  # Pan-STARRS wide
    "r": "#d62728",
    "o": "#ff7f0e",  # ATLAS orange (r+i)
    "i": "#daa520",  # goldenrod
    "z": "#8c564b",
    "y": "#5c3a21",
    "j": "#9e0142",  # infrared bands: dark crimson, plum, black (distinct from z/y browns)
    "h": "#4d004b",
    "k": "#111111",
    "ks": "#111111",
}

FILTER_COLORS: dict[str, str] = {
    "ztfg": _BAND_COLORS["g"],
    "ztfr": _BAND_COLORS["r"],
    "ztfi": _BAND_COLORS["i"],
    "atlasc": _BAND_COLORS["c"],
    "atlaso": _BAND_COLORS["o"],
    "bessellux": _BAND_COLORS["u"],
    "bessellb": _BAND_COLORS["b"],
    "bessellv": _BAND_COLORS["v"],
    "bessellr": _BAND_COLORS["r"],
    "bessellix": _BAND_COLORS["i"],
    "standard::u": _BAND_COLORS["u"],
    "standard::b": _BAND_COLORS["b"],
    "standard::v": _BAND_COLORS["v"],
    "standard::r": _BAND_COLORS["r"],
    "standard::i": _BAND_COLORS["i"],
    "uvot::uvw2": _BAND_COLORS["uvw2"],
    "uvot::uvm2": _BAND_COLORS["uvm2"],
    "uvot::uvw1": _BAND_COLORS["uvw1"],
    "uvot::u": _BAND_COLORS["u"],
    "uvot::b": _BAND_COLORS["b"],
    "uvot::v": _BAND_COLORS["v"],
    "uvot::white": "#999999",
    "2massj": _BAND_COLORS["j"],
    "2massh": _BAND_COLORS["h"],
    "2massks": _BAND_COLORS["ks"],
    "gaia::g": "#4c9a2a",
    "gaia::gbp": "#3366cc",
    "gaia::grp": "#b22222",
    "tess": "#9467bd",
    "clear": "#7f7f7f",
}

# Survey prefixes stripped before trying the band letter ("sdssg", "ps1::r", "lsstz", "desi").
_PREFIX = re.compile(
    r"^(?:sdss|ps1::|ps1|lsst|decam|des|ztf|atlas|bessell|standard::|swift::|uvot::|"
    r"cspjonh|csp|2mass|ukirt::|wfcam|sdss::|megacam6?::|ps|gaia::)[_:\- ]*"
)

# Colour-blind-friendly, distinct from the band colours above (Okabe-Ito and Tol "muted").
FALLBACK_PALETTE: tuple[str, ...] = (
    "#332288",
    "#88ccee",
    "#44aa99",
    "#117733",
    "#999933",
    "#ddcc77",
    "#cc6677",
    "#882255",
    "#aa4499",
    "#0072b2",
    "#e69f00",
    "#cc79a7",
)

# Spectra overlaid on one plot: Okabe-Ito order, then Tol bright.
SPECTRUM_PALETTE: tuple[str, ...] = (
    "#000000",
    "#0072b2",
    "#d55e00",
    "#009e73",
    "#cc79a7",
    "#e69f00",
    "#56b4e9",
    "#4477aa",
    "#ee6677",
    "#228833",
    "#aa3377",
    "#bbbbbb",
)


def filter_color(name: str) -> str:
    """The hex colour of a photometric filter (SkyPortal bandpass name, any case)."""
    key = str(name).strip().lower()
    if key in FILTER_COLORS:
        return FILTER_COLORS[key]
    band = _PREFIX.sub("", key)
    if band != key and band in _BAND_COLORS:
        return _BAND_COLORS[band]
    return FALLBACK_PALETTE[zlib.crc32(key.encode()) % len(FALLBACK_PALETTE)]


def filter_colors(names: Iterable[str]) -> dict[str, str]:
    """Colours for several filters at once: ``{name: hex}``."""
    return {name: filter_color(name) for name in names}
