"""HEALPix localizations: the :class:`Skymap` type, its credible regions and per-map statistics.

A :class:`Skymap` is always held in multi-order form: sorted ``uniq`` (``4 * 4**order +
ipix``, NESTED, ``nside = 2**order``) with ``probdensity`` per steradian and, when the
map has distance layers, ``distmu``/``distsigma`` (Mpc) and ``distnorm`` (Mpc⁻²). Flat maps
are converted losslessly: groups of four sibling pixels whose values are all identical are
merged into their parent, recursively, so a flat map upsampled from a coarser one gets
back its coarse pixels (the real nside-1024 LALInference map becomes 16,896 pixels) while
every position keeps exactly the value it had. Exactness matters more than size here: no
value is ever averaged.

Conventions (see DESIGN.md "Skymaps and crossmatch"): probability of a pixel is
``probdensity * pixel_area``; the credible level of a pixel is the cumulative probability of
all pixels of equal or higher density (ties counted, so tie order never matters).

Imports point one way: this module uses :mod:`workbench.skymap_distance` (the distance
ansatz) and :mod:`workbench.skymap_healpix` (multi-order pixel arithmetic); reading
(:mod:`workbench.skymap_io`) uses this module; :mod:`workbench.skymap` gathers them all.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

import numpy as np

from .errors import SkymapError
from .skymap_distance import DIST_LAYERS, distance_moments
from .skymap_healpix import (
    FULL_SKY_DEG2,
    MAX_ORDER,
    SR_TO_DEG2,
    flat_order,
    merge_flat,
    pixel_area,
    ramp,
    uniq2nest,
)

__all__ = ["Skymap"]


def _as_layer(name: str, values: Any, n: int) -> np.ndarray:
    try:
        arr = np.array(values, dtype=np.float64, copy=True).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise SkymapError(f"{name} must be numeric: {exc}") from exc
    if arr.size != n:
        raise SkymapError(f"{name} has {arr.size} values but uniq has {n}: the columns must align")
    return arr


class Skymap:
    """A multi-order HEALPix localization (probability density per steradian).

    Attributes (read-only numpy arrays, sorted by ``uniq``): ``uniq`` (int64),
    ``probdensity`` (per sr), and when distance layers are present ``distmu`` and
    ``distsigma`` (Mpc) and ``distnorm`` (Mpc⁻²); otherwise those are ``None``. ``meta`` is a
    dict (``name``, ``dateobs``, ``source``, header cards such as ``DISTMEAN``...).

    Construct from arrays with ``Skymap(uniq, probdensity, ...)``, from a flat map with
    :meth:`from_flat`, or from a file/URL/JSON with :func:`read_skymap`.
    """

    def __init__(
        self,
        uniq: Any,
        probdensity: Any,
        distmu: Any = None,
        distsigma: Any = None,
        distnorm: Any = None,
        *,
        meta: dict[str, Any] | None = None,
    ) -> None:
        try:
            uniq_arr = np.array(uniq, dtype=np.int64, copy=True).reshape(-1)
        except (OverflowError, TypeError, ValueError) as exc:
            raise SkymapError(f"uniq must be integers within int64: {exc}") from exc
        n = uniq_arr.size
        if n == 0:
            raise SkymapError("a skymap needs at least one pixel; got an empty uniq array")
        dens = _as_layer("probdensity", probdensity, n)
        given = [v is not None for v in (distmu, distsigma, distnorm)]
        if any(given) and not all(given):
            raise SkymapError("distance layers need all of distmu, distsigma and distnorm")
        dist = (
            [
                _as_layer(k, v, n)
                for k, v in zip(DIST_LAYERS, (distmu, distsigma, distnorm), strict=True)
            ]
            if all(given)
            else None
        )
        order_idx = np.argsort(uniq_arr, kind="stable")
        if np.any(order_idx != np.arange(n)):
            uniq_arr, dens = uniq_arr[order_idx], dens[order_idx]
            dist = [d[order_idx] for d in dist] if dist else None
        self.uniq = uniq_arr
        self.probdensity = dens
        self.distmu, self.distsigma, self.distnorm = dist if dist else (None, None, None)
        self.meta: dict[str, Any] = dict(meta or {})
        for arr in (self.uniq, self.probdensity, *(dist or [])):
            arr.flags.writeable = False
        self._validate()

    # -- validation -------------------------------------------------------------------

    def _validate(self) -> None:
        where = self.meta.get("source") or self.meta.get("name") or "skymap"
        order, _ = uniq2nest(self.uniq)
        if order.max() > MAX_ORDER or order.min() < 0:
            raise SkymapError(f"{where}: UNIQ values imply HEALPix orders outside 0..{MAX_ORDER}")
        if np.any(np.diff(self.uniq) == 0):
            raise SkymapError(f"{where}: duplicate UNIQ values; each pixel may appear once")
        starts, ends = self._ranges[0], self._ranges[1]
        if np.any(starts[1:] < ends[:-1]):
            raise SkymapError(f"{where}: pixels overlap (a pixel and its parent are both present)")
        bad = ~np.isfinite(self.probdensity) | (self.probdensity < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise SkymapError(
                f"{where}: probability density must be finite and >= 0; {int(bad.sum())} "
                f"pixels are not (first: uniq {int(self.uniq[i])} = {self.probdensity[i]!r})"
            )
        if self.has_distance:
            self._validate_distance(where)

    def _validate_distance(self, where: str) -> None:
        # distmu may be +inf (the convention for "no distance information" in a pixel).
        mu, sigma, norm = self.distmu, self.distsigma, self.distnorm
        for name, arr, ok in (
            ("distmu", mu, ~np.isnan(mu) & (mu != -np.inf)),
            ("distsigma", sigma, ~np.isnan(sigma) & (sigma > 0)),
            ("distnorm", norm, np.isfinite(norm) & (norm >= 0)),
        ):
            if not ok.all():
                i = int(np.flatnonzero(~ok)[0])
                raise SkymapError(
                    f"{where}: {name} has invalid values in {int((~ok).sum())} pixels "
                    f"(first: uniq {int(self.uniq[i])} = {arr[i]!r})"
                )

    # -- derived arrays (computed once; the arrays are read-only) -----------------------

    @property
    def has_distance(self) -> bool:
        """True when the map has distance layers (distmu, distsigma, distnorm)."""
        return self.distmu is not None

    @property
    def npix(self) -> int:
        """Number of (multi-order) pixels."""
        return int(self.uniq.size)

    @cached_property
    def order(self) -> np.ndarray:
        """HEALPix order of each pixel."""
        return uniq2nest(self.uniq)[0]

    @cached_property
    def ipix(self) -> np.ndarray:
        """NESTED index of each pixel at its own order."""
        return uniq2nest(self.uniq)[1]

    @property
    def max_order(self) -> int:
        """The finest order present in the map."""
        return int(self.order.max())

    @cached_property
    def pixarea(self) -> np.ndarray:
        """Area of each pixel in steradians."""
        return pixel_area(self.order)

    @cached_property
    def prob(self) -> np.ndarray:
        """Probability of each pixel (``probdensity * area``, dimensionless)."""
        return self.probdensity * self.pixarea

    @cached_property
    def total_prob(self) -> float:
        """Sum of pixel probabilities (1 for a normalised, complete map)."""
        return float(self.prob.sum())

    @cached_property
    def _ranges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(starts, ends, pixel index) of nested ranges at :attr:`max_order`, by start."""
        shift = 2 * (self.max_order - self.order)
        starts = self.ipix << shift
        perm = np.argsort(starts, kind="stable")
        starts = starts[perm]
        ends = starts + (np.int64(1) << shift[perm])
        return starts, ends, perm

    @cached_property
    def covers_sky(self) -> bool:
        """True when the pixels tile the whole sphere."""
        return bool(np.isclose(self.pixarea.sum(), 4 * np.pi, rtol=1e-12))

    # -- credible regions ---------------------------------------------------------------

    @cached_property
    def _greedy(self) -> dict[str, np.ndarray]:
        """Pixels by descending density with cumulative probability/area, and per pixel
        the credible level and searched area counting every pixel of equal or higher
        density (so tie order never matters)."""
        by_density = np.argsort(-self.probdensity, kind="stable")
        cum_prob = np.cumsum(self.prob[by_density])
        cum_area = np.cumsum(self.pixarea[by_density]) * SR_TO_DEG2
        neg = -self.probdensity[by_density]
        last_tie = np.searchsorted(neg, neg, side="right") - 1
        level = np.empty(self.npix)
        # A map summing to 1 + 4e-9 by rounding must not show levels above 1.
        level[by_density] = np.minimum(cum_prob[last_tie], 1.0)
        searched = np.empty(self.npix)
        searched[by_density] = cum_area[last_tie]
        for arr in (level, searched, cum_prob, cum_area):
            arr.flags.writeable = False
        return {
            "order": by_density,
            "cum_prob": cum_prob,
            "cum_area": cum_area,
            "level": level,
            "searched_area": searched,
        }

    @property
    def credible_level(self) -> np.ndarray:
        """Credible level ("searched probability") of each pixel, ties counted."""
        return self._greedy["level"]

    @property
    def searched_area(self) -> np.ndarray:
        """Searched area (deg²) of each pixel: area of all pixels of equal or higher density."""
        return self._greedy["searched_area"]

    def area(self, cumprob: Any = 0.9) -> Any:
        """Area (deg²) of the smallest region holding ``cumprob`` probability.

        Linear interpolation of cumulative area against cumulative probability inside the
        pixel where ``cumprob`` is reached (as ligo.skymap's ``contour_areas``). A level the
        map reaches only up to rounding (1.0 on a map summing to 1 - 1e-16) gives the area
        of all pixels with probability; a level the map never reaches (a truncated map)
        gives the full sky. A float in, a float out; an array in, an array.
        """
        levels = _check_cumprob(cumprob)
        g = self._greedy
        cum_p, cum_a = g["cum_prob"], g["cum_area"]
        k = np.searchsorted(cum_p, levels, side="left")
        kk = np.minimum(k, self.npix - 1)
        prev_p = np.where(k > 0, cum_p[np.maximum(kk - 1, 0)], 0.0)
        prev_a = np.where(k > 0, cum_a[np.maximum(kk - 1, 0)], 0.0)
        step_p, step_a = cum_p[kk] - prev_p, cum_a[kk] - prev_a
        with np.errstate(invalid="ignore", divide="ignore"):
            out = prev_a + np.where(step_p > 0, (levels - prev_p) / step_p, 0.0) * step_a
        positive = float(cum_a[np.searchsorted(cum_p, cum_p[-1], side="left")])
        reached = levels <= cum_p[-1] * (1 + 1e-12)
        out = np.where(k < self.npix, out, np.where(reached, positive, FULL_SKY_DEG2))
        return float(out) if np.ndim(cumprob) == 0 else out

    def region(self, cumprob: float = 0.9) -> np.ndarray:
        """Boolean mask of the pixels inside the ``cumprob`` credible region
        (``credible_level <= cumprob``): SkyPortal's ``localizationCumprob`` selection."""
        return self.credible_level <= float(_check_cumprob(cumprob))

    def region_area(self, cumprob: float = 0.9) -> float:
        """Area (deg²) of the pixels in :meth:`region` (whole pixels, no interpolation)."""
        return float(self.pixarea_deg2[self.region(cumprob)].sum())

    @property
    def pixarea_deg2(self) -> np.ndarray:
        """Area of each pixel in deg²."""
        return self.pixarea * SR_TO_DEG2

    @cached_property
    def max_position(self) -> tuple[float, float]:
        """(ra, dec) in degrees of the centre of the highest-density pixel."""
        import healpy as hp

        i = int(np.argmax(self.probdensity))
        ra, dec = hp.pix2ang(1 << int(self.order[i]), int(self.ipix[i]), nest=True, lonlat=True)
        return float(ra), float(dec)

    def lookup(self, ra: Any, dec: Any) -> np.ndarray:
        """Index into this map's pixel arrays of the pixel holding each (``ra``, ``dec``).

        Degrees in, int64 out; -1 where the position is NaN or not covered by the map.
        One ``ang2pix`` at the map's finest order, then a table of the cells of order
        <= 8 (786,432 entries) answers every position whose cell lies inside one pixel,
        and one ``searchsorted`` over the pixels' nested ranges at the finest order answers
        the rest (cells split into finer pixels). Nothing is rasterised at the finest order.
        """
        import healpy as hp

        ra = np.asarray(ra, dtype=np.float64).reshape(-1)
        dec = np.asarray(dec, dtype=np.float64).reshape(-1)
        if ra.shape != dec.shape:
            raise SkymapError(f"ra and dec differ in length ({ra.size} vs {dec.size})")
        with np.errstate(invalid="ignore"):
            if np.any(np.abs(dec) > 90):
                bad = float(dec[np.abs(dec) > 90][0])
                raise SkymapError(f"declination must be within [-90, 90] degrees; got {bad}")
        ok = np.isfinite(ra) & np.isfinite(dec)
        all_ok = bool(ok.all())
        pix = hp.ang2pix(
            1 << self.max_order,
            ra if all_ok else np.where(ok, ra, 0.0),
            dec if all_ok else np.where(ok, dec, 0.0),
            nest=True,
            lonlat=True,
        )
        table, table_order = self._cell_table
        idx = table[pix >> (2 * (self.max_order - table_order))].astype(np.int64)
        split = np.flatnonzero(idx == -2)
        if split.size:
            idx[split] = self._search(pix[split])
        return idx if all_ok else np.where(ok, idx, -1)

    def _search(self, pix: np.ndarray) -> np.ndarray:
        """Pixel index for nested pixels at the finest order, by one searchsorted."""
        starts, ends, perm = self._ranges
        k = np.searchsorted(starts, pix, side="right") - 1
        kc = np.maximum(k, 0)
        return np.where((k >= 0) & (pix < ends[kc]), perm[kc], -1)

    @cached_property
    def _cell_table(self) -> tuple[np.ndarray, int]:
        """Per cell of order ``min(max_order, 8)``: the pixel holding it, -1 if none, -2 if
        it is split into finer pixels (then :meth:`_search` decides)."""
        order = min(self.max_order, 8)
        table = np.full(12 * 4**order, -1, dtype=np.int32)
        coarse = self.order <= order
        shift = 2 * (order - self.order[coarse])
        counts = np.int64(1) << shift
        cells = np.repeat(self.ipix[coarse] << shift, counts) + ramp(counts)
        table[cells] = np.repeat(np.flatnonzero(coarse).astype(np.int32), counts)
        fine = ~coarse
        table[self.ipix[fine] >> (2 * (self.order[fine] - order))] = -2
        table.flags.writeable = False
        return table, order

    # -- distance -----------------------------------------------------------------------

    def distance_moments(self) -> tuple[float, float]:
        """Posterior mean and std of distance (Mpc) marginalised over the sky.

        The quantities the FITS headers call DISTMEAN and DISTSTD, defined as the LIGO
        pipelines define them: per-pixel moments of the distance ansatz averaged with the
        pixel probabilities (divided by the total probability); pixels without distance
        information (``distmu = inf``) contribute nothing. NaN without distance layers.
        """
        if not self.has_distance:
            return math.nan, math.nan
        mean, std, _ = distance_moments(self.distmu, self.distsigma)
        good = np.isfinite(mean)
        w = self.prob[good] / self.total_prob
        m1 = float(np.sum(w * mean[good]))
        m2 = float(np.sum(w * (std[good] ** 2 + mean[good] ** 2)))
        return m1, math.sqrt(max(m2 - m1 * m1, 0.0))

    def summary(self) -> dict[str, Any]:
        """Per-localization figures: name, dateobs, total probability, 50%/90% areas
        (deg²), most probable (ra, dec) (degrees), distance mean/std (Mpc) computed and as
        the header states, pixel count and finest order."""
        ra, dec = self.max_position
        dmean, dstd = self.distance_moments()
        return {
            "name": self.meta.get("name"),
            "dateobs": self.meta.get("dateobs"),
            "total_prob": self.total_prob,
            "area_50": self.area(0.5),
            "area_90": self.area(0.9),
            "ra_max": ra,
            "dec_max": dec,
            "distmean": dmean,
            "diststd": dstd,
            "header_distmean": self.meta.get("DISTMEAN"),
            "header_diststd": self.meta.get("DISTSTD"),
            "npix": self.npix,
            "max_order": self.max_order,
        }

    def to_flat(self, nside: int | None = None, *, nest: bool = True) -> np.ndarray:
        """Rasterise to a flat map of probability per pixel at ``nside`` (default: the
        finest order). Coarser pixels are spread evenly, finer ones summed. For plots and
        comparisons: the multi-order form is the exact one."""
        order = self.max_order if nside is None else flat_order(12 * int(nside) ** 2)
        if order > 13:
            raise SkymapError(f"refusing to rasterise at nside {1 << order}: too many pixels")
        out = np.zeros(12 * 4**order)
        coarse = self.order <= order
        shift = 2 * (order - self.order[coarse])
        counts = np.int64(1) << shift
        starts = self.ipix[coarse] << shift
        idx = np.repeat(starts, counts) + ramp(counts)
        out[idx] = np.repeat(self.prob[coarse] / counts, counts)
        fine = ~coarse
        parents = self.ipix[fine] >> (2 * (self.order[fine] - order))
        out += np.bincount(parents, weights=self.prob[fine], minlength=out.size)
        if not nest:
            import healpy as hp

            out = hp.reorder(out, n2r=True)
        return out

    def __repr__(self) -> str:
        name = self.meta.get("name") or "unnamed"
        dist = ", with distance" if self.has_distance else ""
        return (
            f"Skymap({name!r}, npix={self.npix}, max_order={self.max_order}, "
            f"total_prob={self.total_prob:.6g}{dist})"
        )

    # -- constructors -----------------------------------------------------------------

    @classmethod
    def from_flat(
        cls,
        prob: Any,
        *,
        nest: bool,
        distmu: Any = None,
        distsigma: Any = None,
        distnorm: Any = None,
        meta: dict[str, Any] | None = None,
    ) -> Skymap:
        """Build a map from a full-sky flat HEALPix map of probability per pixel.

        ``prob`` has ``12 * nside**2`` values (nside a power of two) in NESTED order when
        ``nest`` is true, else RING. Distance layers, when given, are per-pixel Mpc values.
        Equal sibling pixels are merged (see the module docstring), nothing is averaged.
        """
        prob = np.asarray(prob, dtype=np.float64).reshape(-1)
        order = flat_order(prob.size, (meta or {}).get("source"))
        layers = [prob / pixel_area(order)]
        given = [v is not None for v in (distmu, distsigma, distnorm)]
        if any(given) and not all(given):
            raise SkymapError("distance layers need all of distmu, distsigma and distnorm")
        if all(given):
            layers += [
                np.asarray(v, dtype=np.float64).reshape(-1) for v in (distmu, distsigma, distnorm)
            ]
            if any(v.size != prob.size for v in layers):
                raise SkymapError(
                    "flat distance layers must have as many pixels as the probability"
                )
        if not nest:
            import healpy as hp

            layers = [hp.reorder(v, r2n=True) for v in layers]
        uniq, merged = merge_flat(order, layers)
        info = dict(meta or {})
        info.setdefault("flat_nside", 1 << order)
        info.setdefault("flat_ordering", "NESTED" if nest else "RING")
        return cls(uniq, merged[0], *(merged[1:] if all(given) else ()), meta=info)


def _check_cumprob(cumprob: Any) -> np.ndarray:
    levels = np.asarray(cumprob, dtype=np.float64)
    if not np.all((levels >= 0) & (levels <= 1)):
        raise SkymapError(f"cumulative probability must be within [0, 1]; got {cumprob!r}")
    return levels
