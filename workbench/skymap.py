"""HEALPix localizations: the :class:`Skymap` type, reading, and the pixel arithmetic.

Everything a user needs from one place; imports point one way, down:
:mod:`workbench.skymap_healpix` and :mod:`workbench.skymap_distance` <-
:mod:`workbench.skymap_core` (the :class:`Skymap` class, its credible regions and
statistics; definitions and units there) <- :mod:`workbench.skymap_io`
(:func:`read_skymap`) <- this module.
"""

from __future__ import annotations

from .skymap_core import Skymap
from .skymap_distance import distance_moments, distance_parameters
from .skymap_healpix import FULL_SKY_DEG2, SR_TO_DEG2, merge_flat, nest2uniq, pixel_area, uniq2nest
from .skymap_io import read_skymap

__all__ = [
    "FULL_SKY_DEG2",
    "SR_TO_DEG2",
    "Skymap",
    "distance_moments",
    "distance_parameters",
    "merge_flat",
    "nest2uniq",
    "pixel_area",
    "read_skymap",
    "uniq2nest",
]
