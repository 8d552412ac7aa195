"""HEALPix localizations: the :class:`Skymap` type, reading, and per-map statistics.

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
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

import numpy as np

from .errors import SkymapError

MAX_ORDER = 29  # HEALPix's deepest order with 64-bit nested indices
SR_TO_DEG2 = (180.0 / math.pi) ** 2
FULL_SKY_DEG2 = 4.0 * math.pi * SR_TO_DEG2

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


# ---------------------------------------------------------------- multi-order helpers


def uniq2nest(uniq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split multi-order ``uniq`` values into ``(order, nested ipix)`` (both int64)."""
    uniq = np.asarray(uniq, dtype=np.int64)
    if uniq.size and uniq.min() < 4:
        raise SkymapError(f"invalid UNIQ value {int(uniq.min())}: every UNIQ must be >= 4")
    # A float log2 is exact enough to land within one of the right order; fix it up in ints.
    order = (np.floor(np.log2(np.maximum(uniq, 4).astype(np.float64))).astype(np.int64) // 2) - 1
    order[(uniq >> (2 * (order + 2))) > 0] += 1
    order[(uniq >> (2 * (order + 1))) < 1] -= 1
    ipix = uniq - (np.int64(4) << (2 * order))
    return order, ipix


def nest2uniq(order: np.ndarray | int, ipix: np.ndarray) -> np.ndarray:
    """Multi-order ``uniq`` of NESTED pixel ``ipix`` at HEALPix ``order`` (int64)."""
    order = np.asarray(order, dtype=np.int64)
    return (np.int64(4) << (2 * order)) + np.asarray(ipix, dtype=np.int64)


def pixel_area(order: np.ndarray | int) -> np.ndarray:
    """Area in steradians of one pixel at HEALPix ``order`` (``4 pi / (12 * 4**order)``)."""
    order = np.asarray(order, dtype=np.int64)
    return 4.0 * np.pi / (12.0 * np.ldexp(1.0, 2 * order))


def merge_flat(order: int, layers: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Losslessly convert full-sky NESTED arrays at ``order`` into multi-order pixels.

    ``layers`` are per-pixel values that are intensive (density per sr, distmu, ...), so a
    merged parent keeps the exact value of its four identical children. Returns sorted
    ``uniq`` and the layer values for them.
    """
    vals = [np.asarray(v) for v in layers]
    valid: np.ndarray | None = None  # None: every cell at this level is still whole
    out_uniq: list[np.ndarray] = []
    out_vals: list[list[np.ndarray]] = [[] for _ in vals]
    for o in range(order, 0, -1):
        quads = [v.reshape(-1, 4) for v in vals]
        same = np.ones(quads[0].shape[0], dtype=bool)
        for q in quads:
            same &= (q[:, 0] == q[:, 1]) & (q[:, 0] == q[:, 2]) & (q[:, 0] == q[:, 3])
        whole4 = None if valid is None else valid.reshape(-1, 4)
        if whole4 is not None:
            same &= whole4.all(axis=1)
        keep = ~same[:, None] if whole4 is None else (~same[:, None] & whole4)
        idx = np.flatnonzero(np.broadcast_to(keep, quads[0].shape).ravel())
        out_uniq.append(nest2uniq(o, idx))
        for k, v in enumerate(vals):
            out_vals[k].append(v[idx])
        vals = [q[:, 0].copy() for q in quads]
        valid = same
        if not same.any():
            break
    else:
        idx = np.flatnonzero(valid) if valid is not None else np.arange(vals[0].size)
        out_uniq.append(nest2uniq(0, idx))
        for k, v in enumerate(vals):
            out_vals[k].append(v[idx])
    uniq = np.concatenate(out_uniq)
    order_idx = np.argsort(uniq, kind="stable")
    return uniq[order_idx], [np.concatenate(parts)[order_idx] for parts in out_vals]


# ---------------------------------------------------------------- the Skymap type

_DIST_LAYERS = ("distmu", "distsigma", "distnorm")


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
                for k, v in zip(_DIST_LAYERS, (distmu, distsigma, distnorm), strict=True)
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
        level[by_density] = cum_prob[last_tie]
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
        cells = np.repeat(self.ipix[coarse] << shift, counts) + _ramp(counts)
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
        order = self.max_order if nside is None else _flat_order(12 * int(nside) ** 2)
        if order > 13:
            raise SkymapError(f"refusing to rasterise at nside {1 << order}: too many pixels")
        out = np.zeros(12 * 4**order)
        coarse = self.order <= order
        shift = 2 * (order - self.order[coarse])
        counts = np.int64(1) << shift
        starts = self.ipix[coarse] << shift
        idx = np.repeat(starts, counts) + _ramp(counts)
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
        order = _flat_order(prob.size, (meta or {}).get("source"))
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


def _ramp(counts: np.ndarray) -> np.ndarray:
    """0..c-1 for each c in ``counts``, concatenated."""
    total = int(counts.sum())
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total, dtype=np.int64) - offsets


def _check_cumprob(cumprob: Any) -> np.ndarray:
    levels = np.asarray(cumprob, dtype=np.float64)
    if not np.all((levels >= 0) & (levels <= 1)):
        raise SkymapError(f"cumulative probability must be within [0, 1]; got {cumprob!r}")
    return levels


def _flat_order(npix: int, where: str | None = None) -> int:
    """HEALPix order of a full-sky flat map of ``npix`` pixels (nside must be 2**order)."""
    label = f"{where}: " if where else ""
    nside2 = npix // 12
    nside = math.isqrt(nside2)
    if npix < 12 or npix % 12 or nside * nside != nside2:
        raise SkymapError(
            f"{label}{npix} pixels is not a full-sky HEALPix map (12 * nside**2); "
            "the file is truncated or not a HEALPix map"
        )
    if nside & (nside - 1):
        raise SkymapError(
            f"{label}nside {nside} is not a power of two; only such maps are supported"
        )
    return nside.bit_length() - 1


# ---------------------------------------------------------------- distance ansatz


def _radial_moments(x: np.ndarray, kmax: int = 4) -> list[np.ndarray]:
    """``J_k(x) = integral_0^inf u**k phi(u - x) du / phi(x)`` for k = 0..kmax.

    The common factor ``phi(x)`` (standard normal pdf) is divided out, via the scaled
    complementary error function, so the ratios stay accurate for negative ``x`` where
    ``Phi(x)`` underflows. The recursion is ``J_k = x J_{k-1} + (k-1) J_{k-2}``.
    """
    from scipy.special import erfcx

    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        j0 = np.sqrt(np.pi / 2) * erfcx(-x / np.sqrt(2))  # Phi(x) / phi(x)
        out = [j0, x * j0 + 1.0]
        for k in range(2, kmax + 1):
            out.append(x * out[k - 1] + (k - 1) * out[k - 2])
    return out


def distance_moments(
    distmu: np.ndarray, distsigma: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Conditional mean and std (Mpc) and normaliser (Mpc⁻²) of ``r**2 N(r; mu, sigma)``, r>0.

    That is the distance posterior along one line of sight in the HEALPix distance ansatz.
    Pixels with ``distmu = +inf`` (no distance information) give NaN mean/std and norm 0.
    """
    mu = np.asarray(distmu, dtype=np.float64)
    sigma = np.asarray(distsigma, dtype=np.float64)
    finite = np.isfinite(mu)
    x = np.where(finite, mu / sigma, 0.0)
    j = _radial_moments(x)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        # Large positive x would overflow the scaled form; the unscaled ratio is exact there.
        mean = sigma * j[3] / j[2]
        var = sigma**2 * (j[4] / j[2] - (j[3] / j[2]) ** 2)
        pdf_x = np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)
        norm = 1.0 / (sigma**2 * j[2] * pdf_x)
    big = x > 30  # phi(x) underflows; the normal is far from r = 0 so the moments are plain
    with np.errstate(over="ignore", invalid="ignore"):
        mean = np.where(big, (mu**2 + 3 * sigma**2) * mu / (mu**2 + sigma**2), mean)
        var = np.where(big, _big_x_var(mu, sigma), var)
        norm = np.where(big, 1.0 / (mu**2 + sigma**2), norm)
    mean = np.where(finite, mean, np.nan)
    std = np.where(finite, np.sqrt(np.maximum(var, 0.0)), np.nan)
    norm = np.where(finite, norm, 0.0)
    return mean, std, norm


def _big_x_var(mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    # Untruncated moments of r**2 N(r): E r^2, r^3, r^4 over E r^2.
    m2 = mu**2 + sigma**2
    m3 = mu**3 + 3 * mu * sigma**2
    m4 = mu**4 + 6 * mu**2 * sigma**2 + 3 * sigma**4
    return m4 / m2 - (m3 / m2) ** 2


def distance_parameters(mean: float, std: float) -> tuple[float, float, float]:
    """Ansatz ``(distmu, distsigma, distnorm)`` whose line-of-sight posterior has this
    ``mean`` and ``std`` (Mpc). The ratio std/mean must be below about 0.577 (the limit of
    ``r**2 N(r)`` as ``distmu`` goes to minus infinity).
    """
    from scipy.optimize import brentq

    if not (np.isfinite(mean) and np.isfinite(std) and mean > 0 and std > 0):
        raise SkymapError(f"distance mean and std must be positive Mpc values; got {mean}, {std}")

    def ratio(x: float) -> float:
        m, sd, _ = distance_moments(np.array([x]), np.array([1.0]))
        return float(sd[0] / m[0])

    lo, hi = -8.0, 1e4
    target = std / mean
    if not ratio(hi) < target < ratio(lo):
        raise SkymapError(
            f"diststd/distmean = {target:.3g} cannot be represented by the distance ansatz; "
            f"it must lie in ({ratio(hi):.2g}, {ratio(lo):.3g})"
        )
    x = brentq(lambda v: ratio(v) - target, lo, hi, xtol=1e-13, rtol=1e-14)
    unit_mean = float(distance_moments(np.array([x]), np.array([1.0]))[0][0])
    sigma = mean / unit_mean
    mu = x * sigma
    norm = float(distance_moments(np.array([mu]), np.array([sigma]))[2][0])
    return mu, sigma, norm


# ---------------------------------------------------------------- reading

_NORM_TOLERANCE = 1e-3
_HEADER_KEYS = (
    "OBJECT",
    "DATE-OBS",
    "MJD-OBS",
    "CREATOR",
    "ORIGIN",
    "INSTRUME",
    "TELESCOP",
    "DISTMEAN",
    "DISTSTD",
    "NSIDE",
    "ORDERING",
    "REFERENC",
    "LOGBCI",
    "LOGBSN",
)


def read_skymap(
    source: Any,
    *,
    normalize: bool = False,
    check: bool = True,
    timeout: float = 30.0,
    name: str | None = None,
) -> Skymap:
    """Read a localization from a FITS file path, an http(s) URL, raw bytes, or SkyPortal JSON.

    FITS may be gzipped; flat (any power-of-two nside, RING or NESTED, ``PROB`` or
    ``PROBABILITY`` per pixel, optional ``DISTMU``/``DISTSIGMA``/``DISTNORM``, implicit or
    explicit indexing) or multi-order (``UNIQ`` + ``PROBDENSITY`` per sr + optional distance
    columns). JSON is the body (or its ``data``) of SkyPortal's
    ``GET /api/localization/{dateobs}/name/{name}``, as a dict, a string or bytes.

    The probabilities must sum to 1 within 1e-3: a truncated or unnormalised map raises
    :class:`SkymapError` unless ``normalize=True`` (rescale to 1) or ``check=False`` (use it
    as it is). ``timeout`` (seconds) applies to URLs.
    """
    if isinstance(source, Skymap):
        return _finish(source, source.meta.get("source", "skymap"), normalize, check)
    where, payload = _load_source(source, timeout)
    sky = _from_json(payload, where) if isinstance(payload, dict) else _from_fits(payload, where)
    if name:
        sky.meta["name"] = name
    return _finish(sky, where, normalize, check)


def _finish(sky: Skymap, where: str, normalize: bool, check: bool) -> Skymap:
    total = sky.total_prob
    if normalize:
        if not total > 0:
            raise SkymapError(f"{where}: total probability is {total}; nothing to normalise")
        if total != 1.0:
            dist = (sky.distmu, sky.distsigma, sky.distnorm) if sky.has_distance else ()
            meta = {**sky.meta, "normalized_from": total}
            sky = Skymap(sky.uniq, sky.probdensity / total, *dist, meta=meta)
    elif check and abs(total - 1.0) > _NORM_TOLERANCE:
        raise SkymapError(
            f"{where}: probabilities sum to {total:.6g}, not 1 (the map is truncated or not "
            "normalised); pass normalize=True to rescale it or check=False to use it as is"
        )
    return sky


def _load_source(source: Any, timeout: float) -> tuple[str, bytes | dict[str, Any]]:
    """(a label for messages, FITS bytes or a JSON dict)."""
    import os

    if isinstance(source, dict):
        return "localization JSON", source
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "skymap bytes", _sniff(bytes(source), "skymap bytes")
    if isinstance(source, str) and source.lstrip().startswith("{"):
        return "localization JSON", _sniff(source.encode(), "localization JSON")
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        return _fetch(source, timeout)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise SkymapError(f"cannot read skymap file {path!r}: {exc.strerror or exc}") from exc
        return path, _sniff(raw, path)
    raise SkymapError(
        f"cannot read a skymap from a {type(source).__name__}: give a path, URL, bytes, "
        "or SkyPortal localization JSON"
    )


def _fetch(url: str, timeout: float) -> tuple[str, bytes | dict[str, Any]]:
    import requests

    from .errors import ConnectionFailed
    from .redact import redact

    label = redact(url)
    try:
        resp = requests.get(url, timeout=timeout)
    except requests.RequestException as exc:
        raise ConnectionFailed(
            f"could not download the skymap ({type(exc).__name__}); check the URL and network",
            url=url,
        ) from exc
    if resp.status_code != 200:
        raise SkymapError(f"{label}: HTTP {resp.status_code} while downloading the skymap")
    return label, _sniff(resp.content, label)


def _sniff(raw: bytes, where: str) -> bytes | dict[str, Any]:
    """Gunzip if needed; return FITS bytes, or the parsed JSON object."""
    import gzip
    import json
    import zlib

    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise SkymapError(f"{where}: the gzip stream is truncated or corrupt ({exc})") from exc
    head = raw[:64].lstrip()
    if head.startswith(b"{"):
        try:
            obj = json.loads(raw)
        except ValueError as exc:
            raise SkymapError(f"{where}: malformed JSON ({exc})") from exc
        if not isinstance(obj, dict):
            raise SkymapError(f"{where}: expected a JSON object with uniq/probdensity arrays")
        return obj
    if not raw.startswith(b"SIMPLE"):
        raise SkymapError(f"{where}: not a FITS file (no SIMPLE card) nor SkyPortal JSON")
    return raw


def _from_json(obj: dict[str, Any], where: str) -> Skymap:
    if obj.get("status") == "error":
        raise SkymapError(f"{where}: the server answered with an error: {obj.get('message')}")
    data = obj["data"] if isinstance(obj.get("data"), dict) else obj
    missing = [k for k in ("uniq", "probdensity") if data.get(k) is None]
    if missing:
        raise SkymapError(f"{where}: missing {', '.join(missing)}; not a SkyPortal localization")
    dist = [data.get(k) for k in _DIST_LAYERS]
    if all(d is not None for d in dist):
        lengths = {len(data["uniq"]), *(len(d) for d in dist)}
        if len(lengths) != 1 or len(data["probdensity"]) not in lengths:
            raise SkymapError(f"{where}: uniq, probdensity and distance arrays differ in length")
        # JSON cannot hold infinity: SkyPortal writes distmu = +inf ("no distance
        # information here") as null.
        dist[0] = [np.inf if v is None else v for v in dist[0]]
    else:
        dist = []
    name = data.get("localization_name")
    meta = {
        "name": name,
        "dateobs": data.get("dateobs"),
        "source": where,
        "localization_id": data.get("id"),
    }
    meta["source"] = f"localization {name!r}" if name else where
    try:
        uniq = np.asarray(data["uniq"], dtype=np.int64)
        dens = np.asarray(data["probdensity"], dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise SkymapError(f"{where}: uniq/probdensity are not numeric arrays ({exc})") from exc
    if uniq.shape != dens.shape or uniq.ndim != 1:
        raise SkymapError(f"{where}: uniq and probdensity must be 1-D arrays of equal length")
    return Skymap(uniq, dens, *dist, meta=meta)


def _from_fits(raw: bytes, where: str) -> Skymap:
    import io
    import warnings

    from astropy.io import fits

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # truncation is detected below, by size
            hdul = fits.open(io.BytesIO(raw), memmap=False)
            table = next((h for h in hdul if isinstance(h, fits.BinTableHDU)), None)
            if table is None:
                raise SkymapError(f"{where}: no binary table HDU; not a HEALPix skymap")
            arrays = _table_arrays(raw, table, where)
            header = {**dict(hdul[0].header), **dict(table.header)}
    except SkymapError:
        raise
    except (OSError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise SkymapError(f"{where}: malformed FITS file ({exc})") from exc
    meta = {
        "name": str(header.get("OBJECT") or "").strip() or _basename(where),
        "dateobs": header.get("DATE-OBS"),
        "source": where,
        **{k: header[k] for k in _HEADER_KEYS if k in header},
    }
    if "UNIQ" in arrays:
        return _multiorder_from_columns(arrays, table.columns, meta, where)
    return _flat_from_columns(arrays, header, meta, where)


def _table_arrays(raw: bytes, table: Any, where: str) -> dict[str, np.ndarray]:
    """Columns of a binary table by upper-case name, read straight from the file's bytes.

    Viewing the big-endian rows with numpy avoids astropy's extra copies of the table (a
    12-million-row map loads about twice as fast); scaled or variable-length columns, which
    need astropy's conversions, go through ``table.data``.
    """
    nrows = int(table.header.get("NAXIS2", 0))
    start = int(table.fileinfo()["datLoc"])
    plain = all(
        c.bscale in (None, 1)
        and c.bzero in (None, 0)
        and "P" not in str(c.format)
        and "Q" not in str(c.format)
        for c in table.columns
    )
    dtype = table.columns.dtype.newbyteorder(">")
    if start + nrows * dtype.itemsize > len(raw):
        raise SkymapError(
            f"{where}: the FITS file is truncated ({len(raw)} bytes, the table needs "
            f"{start + nrows * dtype.itemsize})"
        )
    rows = np.frombuffer(raw, dtype=dtype, count=nrows, offset=start) if plain else table.data
    return {c.name.upper(): np.asarray(rows[c.name]) for c in table.columns}


def _basename(where: str) -> str:
    return where.rstrip("/").rsplit("/", 1)[-1]


def _column(arrays: dict[str, np.ndarray], key: str) -> np.ndarray:
    # Vector columns (e.g. 1024E per row in old healpy files) flatten in pixel order.
    return np.ascontiguousarray(arrays[key], dtype=np.float64).reshape(-1)


def _dist_columns(arrays: dict[str, np.ndarray], where: str) -> list[np.ndarray]:
    present = [k for k in ("DISTMU", "DISTSIGMA", "DISTNORM") if k in arrays]
    if not present:
        return []
    if len(present) != 3:
        missing = sorted({"DISTMU", "DISTSIGMA", "DISTNORM"} - set(present))
        raise SkymapError(f"{where}: distance columns incomplete, missing {', '.join(missing)}")
    return [_column(arrays, k) for k in ("DISTMU", "DISTSIGMA", "DISTNORM")]


def _multiorder_from_columns(arrays, columns, meta, where) -> Skymap:  # type: ignore[no-untyped-def]
    uniq = np.asarray(arrays["UNIQ"]).reshape(-1)
    if not np.issubdtype(uniq.dtype, np.integer):
        raise SkymapError(f"{where}: the UNIQ column must hold integers, not {uniq.dtype}")
    uniq = uniq.astype(np.int64)
    if "PROBDENSITY" in arrays:
        dens = _column(arrays, "PROBDENSITY")
        unit = str(columns["PROBDENSITY"].unit or "sr-1").strip().lower().replace(" ", "")
        if unit in ("deg-2", "deg**-2", "1/deg2", "1/deg**2"):
            dens = dens * SR_TO_DEG2
        elif unit not in ("sr-1", "1/sr", "sr**-1", "/sr"):
            raise SkymapError(f"{where}: PROBDENSITY unit {unit!r} is not sr-1 or deg-2")
    elif "PROB" in arrays:
        dens = _column(arrays, "PROB") / pixel_area(uniq2nest(uniq)[0])
    else:
        raise SkymapError(
            f"{where}: multi-order map has no PROBDENSITY column (columns: {', '.join(arrays)})"
        )
    meta = {**meta, "ORDERING": "NUNIQ"}
    return Skymap(uniq, dens, *_dist_columns(arrays, where), meta=meta)


def _flat_from_columns(arrays, header, meta, where) -> Skymap:  # type: ignore[no-untyped-def]
    ordering = str(header.get("ORDERING", "")).strip().upper()
    if ordering not in ("RING", "NESTED"):
        raise SkymapError(
            f"{where}: ORDERING header is {header.get('ORDERING')!r}; a flat HEALPix map "
            "needs RING or NESTED (multi-order maps need a UNIQ column)"
        )
    key = next((k for k in ("PROB", "PROBABILITY") if k in arrays), None)
    if key is None:
        raise SkymapError(f"{where}: no PROB or PROBABILITY column (columns: {', '.join(arrays)})")
    prob = _column(arrays, key)
    dist = _dist_columns(arrays, where)
    if "PIXEL" in arrays or str(header.get("INDXSCHM", "")).strip().upper() == "EXPLICIT":
        prob, dist = _explicit_to_full(arrays, header, prob, dist, where)
    order = _flat_order(prob.size, where)
    nside = header.get("NSIDE")
    if nside is not None and int(nside) != 1 << order:
        raise SkymapError(
            f"{where}: header NSIDE={nside} but the data hold {prob.size} pixels "
            f"(nside {1 << order}); the file is truncated or its header is wrong"
        )
    return Skymap.from_flat(
        prob, nest=ordering == "NESTED", meta=meta, **dict(zip(_DIST_LAYERS, dist, strict=False))
    )


def _explicit_to_full(arrays, header, prob, dist, where):  # type: ignore[no-untyped-def]
    """Partial-sky maps list their pixels in a PIXEL column; absent pixels hold nothing."""
    if "PIXEL" not in arrays or "NSIDE" not in header:
        raise SkymapError(f"{where}: explicit indexing needs a PIXEL column and an NSIDE header")
    nside = int(header["NSIDE"])
    pix = np.asarray(arrays["PIXEL"]).reshape(-1).astype(np.int64)
    npix = 12 * nside * nside
    if pix.size != prob.size or (pix.size and (pix.min() < 0 or pix.max() >= npix)):
        raise SkymapError(f"{where}: PIXEL column does not match the data or NSIDE={nside}")
    full = np.zeros(npix)
    full[pix] = prob
    out = []
    for fill, layer in zip((np.inf, 1.0, 0.0), dist, strict=False):
        arr = np.full(npix, fill)
        arr[pix] = layer
        out.append(arr)
    return full, out
