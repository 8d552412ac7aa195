"""Multi-order HEALPix arithmetic for :mod:`workbench.skymap`: ``uniq`` <-> (order, nested
pixel), pixel areas, lossless merging of flat maps into multi-order pixels, and the unit
constants (steradians to deg²).

``uniq = 4 * 4**order + ipix`` with ``ipix`` NESTED at ``nside = 2**order``.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import SkymapError

MAX_ORDER = 29  # HEALPix's deepest order with 64-bit nested indices
SR_TO_DEG2 = (180.0 / math.pi) ** 2
FULL_SKY_DEG2 = 4.0 * math.pi * SR_TO_DEG2


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


def ramp(counts: np.ndarray) -> np.ndarray:
    """0..c-1 for each c in ``counts``, concatenated."""
    total = int(counts.sum())
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total, dtype=np.int64) - offsets


def flat_order(npix: int, where: str | None = None) -> int:
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
