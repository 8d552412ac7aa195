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
    "Skymap",
    "nest2uniq",
    "pixel_area",
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
    arr = np.array(values, dtype=np.float64, copy=True).reshape(-1)
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
        uniq_arr = np.array(uniq, dtype=np.int64, copy=True).reshape(-1)
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
    def area(self) -> np.ndarray:
        """Area of each pixel in steradians."""
        return pixel_area(self.order)

    @cached_property
    def prob(self) -> np.ndarray:
        """Probability of each pixel (``probdensity * area``, dimensionless)."""
        return self.probdensity * self.area

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
        return bool(np.isclose(self.area.sum(), 4 * np.pi, rtol=1e-12))

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
