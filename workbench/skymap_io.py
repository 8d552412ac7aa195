"""Reading localizations for :mod:`workbench.skymap`: :func:`read_skymap` from a FITS path,
an http(s) URL, raw bytes (gzipped or not) or SkyPortal localization JSON.

Flat FITS maps (RING or NESTED, implicit or explicit indexing) become multi-order maps via
:meth:`Skymap.from_flat`; multi-order FITS and JSON are taken as they are. Probabilities
must sum to 1 within ``_NORM_TOLERANCE`` unless asked otherwise.

Imports point one way: this module uses :mod:`workbench.skymap_core`;
:mod:`workbench.skymap` re-exports both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import SkymapError
from .skymap_core import Skymap
from .skymap_distance import DIST_LAYERS
from .skymap_healpix import SR_TO_DEG2, flat_order, pixel_area, uniq2nest

__all__ = ["read_skymap"]

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
    dist = [data.get(k) for k in DIST_LAYERS]
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
    order = flat_order(prob.size, where)
    nside = header.get("NSIDE")
    if nside is not None and int(nside) != 1 << order:
        raise SkymapError(
            f"{where}: header NSIDE={nside} but the data hold {prob.size} pixels "
            f"(nside {1 << order}); the file is truncated or its header is wrong"
        )
    return Skymap.from_flat(
        prob, nest=ordering == "NESTED", meta=meta, **dict(zip(DIST_LAYERS, dist, strict=False))
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
