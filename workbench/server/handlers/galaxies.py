"""``/api/galaxy_catalog``: page with ``pageNumber``, filter, sort, localization; ingest, delete."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import queries
from ..records import num
from ..timeutil import iso
from .base import ApiError, BaseHandler, page_slice
from .common import localization_args

GALAXY_KEYS = (
    "healpix",
    "magk",
    "b2a",
    "redshift",
    "mag_fuv",
    "pa",
    "ra",
    "catalog_id",
    "mag_nuv",
    "btc",
    "redshift_error",
    "mag_w1",
    "id",
    "alt_name",
    "sfr_fuv",
    "mag_w2",
    "modified",
    "name",
    "sfr_w4",
    "mag_w3",
    "created_at",
    "distmpc",
    "mstar",
    "mag_w4",
    "dec",
    "distmpc_unc",
    "magb",
    "a",
)


def galaxy_record(store, catalog: str, row: int) -> dict[str, Any]:
    """A Galaxy dict of ``catalog`` (``CLU_mini`` is catalog 1)."""
    g = store.catalogs[catalog]
    stamp = iso(int(g["created"][row]))
    values = {
        k: num(g[k][row])
        for k in (
            "magk",
            "b2a",
            "redshift",
            "pa",
            "ra",
            "sfr_fuv",
            "distmpc",
            "mstar",
            "dec",
            "distmpc_unc",
            "magb",
            "a",
        )
    }
    values.update(
        {
            "healpix": int(g["healpix"][row]),
            "catalog_id": list(store.catalogs).index(catalog) + 1,
            "id": int(g["id"][row]),
            "name": g["name"][row],
            "alt_name": None,
            "modified": stamp,
            "created_at": stamp,
            "btc": values["magb"],
        }
    )
    return {k: values.get(k) for k in GALAXY_KEYS}


RANGE_FILTERS = (
    ("minDistance", "distmpc", np.greater_equal),
    ("maxDistance", "distmpc", np.less_equal),
    ("minRedshift", "redshift", np.greater_equal),
    ("maxRedshift", "redshift", np.less_equal),
    ("minMstar", "mstar", np.greater_equal),
    ("maxMstar", "mstar", np.less_equal),
)
SORT_KEYS = ("distmpc", "redshift", "mstar", "magb", "magk", "sfr_fuv")
CATALOG_COLUMNS = (
    "distmpc",
    "distmpc_unc",
    "redshift",
    "mstar",
    "magb",
    "magk",
    "sfr_fuv",
    "a",
    "b2a",
    "pa",
)


class GalaxyCatalogHandler(BaseHandler):
    """GET ``/api/galaxy_catalog[/{ignored}]``; POST ingests a catalog.

    GET pages with ``pageNumber`` and echoes it as ``data.page``; a ``page`` parameter is
    ignored (SkyPortal 1.4.0: ``page=2`` returns page 1). Past the last page the list is
    empty (the real handler slices a Python list), not a 400.
    """

    async def get(self, ignored: str | None = None) -> None:
        store = self.store
        name = self.arg("catalog_name")
        if self.flag("catalogNamesOnly"):
            await self.success(
                [{"catalog_name": k, "catalog_count": len(v)} for k, v in store.catalogs.items()]
            )
            return
        if name is not None and name not in store.catalogs:
            raise ApiError(f"get_galaxies fails: Catalog with name {name} not found")
        page, per = self.page_args(1000, max_per_page=10000)
        picked: list[tuple[str, int]] = []
        keys: list[np.ndarray] = []
        sort_by = self.arg("sortBy")
        for catalog in [name] if name else list(store.catalogs):
            rows = self._rows(store.catalogs[catalog])
            picked += [(catalog, int(r)) for r in rows]
            if sort_by in SORT_KEYS:
                keys.append(store.catalogs[catalog][sort_by][rows])
        if sort_by in SORT_KEYS and picked:
            key = np.concatenate(keys)
            desc = (self.arg("sortOrder") or "asc").lower() == "desc"
            key = np.where(np.isnan(key), np.inf, -key if desc else key)
            picked = [picked[i] for i in np.argsort(key, kind="stable")]
        total = len(picked)
        chosen = picked[page_slice(total, page, per, past_end_empty=True)]
        await self.success(
            {
                "galaxies": [galaxy_record(store, c, r) for c, r in chosen],
                "totalMatches": total,
                "page": page,
                "numPerPage": per,
            }
        )

    def _rows(self, g) -> np.ndarray:
        mask = np.ones(len(g), dtype=bool)
        for arg, col, op in RANGE_FILTERS:
            value = self.float_arg(arg)
            if value is not None:
                with np.errstate(invalid="ignore"):
                    mask &= op(g[col], value)
        if self.arg("ra") is not None and self.arg("dec") is not None:
            mask &= queries.cone_mask(
                self.float_arg("ra"),
                self.float_arg("dec"),
                self.float_arg("radius") or 1.0,
                g["ra"],
                g["dec"],
            )
        needle = self.arg("galaxyName")
        if needle:
            mask &= np.array([needle.lower() in n.lower() for n in g["name"]], dtype=bool)
        rows = np.flatnonzero(mask)
        loc = localization_args(self)
        if loc is not None:
            try:
                rows = rows[
                    queries.localization_mask(self.store, loc, g["ra"][rows], g["dec"][rows])
                ]
            except queries.QueryError as exc:
                raise ApiError(f"get_galaxies fails: {exc}") from exc
        return rows

    async def post(self, ignored: str | None = None) -> None:
        body = self.json_body()
        name, data = body.get("catalog_name"), body.get("catalog_data")
        if not name or not isinstance(data, dict):
            raise ApiError(
                "Invalid/missing parameters: catalog_name and catalog_data (a dict "
                "of equal-length columns) are required"
            )
        missing = [k for k in ("name", "ra", "dec") if k not in data]
        if missing:
            raise ApiError(f"catalog_data is missing required columns {missing}")
        lengths = {len(v) for v in data.values() if isinstance(v, list)}
        if len(lengths) != 1:
            raise ApiError("catalog_data columns must be lists of equal length")
        n = lengths.pop()
        store = self.store
        try:
            ra = np.asarray(data["ra"], dtype=float)
            dec = np.asarray(data["dec"], dtype=float)
            cols = {
                k: np.asarray(
                    [np.nan if v is None else v for v in data.get(k, [None] * n)], dtype=float
                )
                for k in CATALOG_COLUMNS
            }
        except (TypeError, ValueError) as exc:
            raise ApiError(f"catalog_data has a non-numeric value: {exc}") from exc
        if ((dec < -90) | (dec > 90)).any():
            raise ApiError("catalog_data dec values must be within [-90, 90] degrees")
        import healpy as hp

        from ..columns import Columns

        with store.lock:
            start = 1 + max(
                (int(c["id"].max()) for c in store.catalogs.values() if len(c)), default=0
            )
            store.catalogs[str(name)] = Columns(
                {
                    "id": np.arange(start, start + n, dtype=np.int64),
                    "name": np.array([str(x) for x in data["name"]], dtype=object),
                    "ra": ra % 360,
                    "dec": dec,
                    **cols,
                    "healpix": hp.ang2pix(2**29, ra % 360, dec, nest=True, lonlat=True).astype(
                        np.int64
                    ),
                    "created": np.full(n, store.clock.now(), dtype=np.int64),
                }
            )
        await self.success()

    async def delete(self, catalog_name: str | None = None) -> None:
        if catalog_name is None or catalog_name not in self.store.catalogs:
            raise ApiError(f"Catalog with name {catalog_name} not found")
        with self.store.lock:
            del self.store.catalogs[catalog_name]
        await self.success()
