"""GCN events, localizations (JSON and multi-order FITS) and the galaxy catalog."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import mocmap, queries
from ..records import num
from ..timeutil import iso, parse_time
from .base import ApiError, BaseHandler, page_slice
from .common import localization_args

AREA_TAGS = ((200, "< 200 sq. deg."), (500, "< 500 sq. deg."), (1000, "< 1000 sq. deg."))
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


def _loc_summary(event) -> dict[str, Any]:
    m = event.ensure_map()
    levels = event.levels
    area90 = float(m.area[levels <= 0.9].sum() * (180 / np.pi) ** 2)
    order = np.argsort(-m.probdensity)
    cum_area = np.cumsum(m.area[order]) * (180 / np.pi) ** 2
    prob500 = float(m.prob[order][cum_area <= 500].sum())
    props = {"area_90": area90, "probability_500": prob500}
    if m.distmu is not None:
        props.update(distmean=event.dist[0], diststd=event.dist[1])
    tags = [text for limit, text in AREA_TAGS if area90 < limit]
    if prob500 > 0.9:
        tags.append("> 0.9 in 500 sq. deg.")
    return {"properties": props, "tags": tags}


def _tag_records(event, tags: list[str]) -> list[dict[str, Any]]:
    stamp = iso(event.created + 1_800_000)
    return [
        {
            "localization_id": event.id,
            "sent_by_id": 1,
            "modified": stamp,
            "text": t,
            "id": 10 * event.id + k,
            "created_at": stamp,
        }
        for k, t in enumerate(tags)
    ]


def _contour(event) -> dict[str, Any]:
    ra0, dec0 = event.center
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [ra0, dec0]},
            "properties": {"credible_level": 0},
        }
    ]
    for level in (50, 90):
        radius = event.sigma * np.sqrt(-2 * np.log(1 - level / 100))
        angle = np.linspace(0, 2 * np.pi, 73)
        dec = np.clip(dec0 + radius * np.sin(angle), -90, 90)
        ra = (ra0 + radius * np.cos(angle) / max(np.cos(np.radians(dec0)), 1e-3)) % 360
        features.append(
            {
                "type": "Feature",
                "properties": {"credible_level": level},
                "geometry": {"type": "MultiLineString", "coordinates": [np.c_[ra, dec].tolist()]},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def localization_record(event, *, arrays: bool, dist: bool, full: bool) -> dict[str, Any]:
    """A Localization dict (``arrays``: uniq/probdensity; ``dist``: distance layers too)."""
    stamp = iso(event.created + 400_000)
    out: dict[str, Any] = {
        "sent_by_id": 1,
        "dateobs": event.dateobs,
        "created_at": stamp,
        "modified": iso(event.created + 35_000_000),
        "id": event.id,
        "localization_name": event.loc_name,
        "notice_id": event.id,
    }
    summary = _loc_summary(event)
    if arrays:
        m = event.ensure_map()
        out["uniq"] = m.uniq.tolist()
        out["probdensity"] = m.probdensity.tolist()
        if dist:
            for key in ("distmu", "distsigma", "distnorm"):
                values = getattr(m, key)
                out[key] = None if values is None else values.tolist()
        out["contour"] = _contour(event)
    if full:
        out["properties"] = [
            {
                "localization_id": event.id,
                "modified": stamp,
                "data": summary["properties"],
                "sent_by_id": 1,
                "id": event.id,
                "created_at": stamp,
            }
        ]
    out["tags"] = _tag_records(event, summary["tags"])
    if full:
        from ..cosmo import galactic

        lon, lat = galactic(*event.center)
        out["center"] = {
            "ra": event.center[0],
            "dec": event.center[1],
            "gal_lat": lat,
            "gal_lon": lon,
            "ebv": None,
        }
    return out


VOEVENT = """<?xml version="1.0" ?>
<voe:VOEvent xmlns:voe="http://www.ivoa.net/xml/VOEvent/v2.0" version="2.0" role="observation"
 ivorn="{ivorn}">
  <Who><Date>{date}</Date></Who>
  <WhereWhen><ObsDataLocation><ObservationLocation><AstroCoords>
    <Time><TimeInstant><ISOTime>{date}</ISOTime></TimeInstant></Time>
    <Position2D><Value2><C1>{ra}</C1><C2>{dec}</C2></Value2><Error2Radius>{err}</Error2Radius>
    </Position2D></AstroCoords></ObservationLocation></ObsDataLocation></WhereWhen>
  <What><Param name="skymap_fits" value="{name}"/></What>
</voe:VOEvent>
"""


def _notice(event, *, content: bool = False) -> dict[str, Any]:
    stamp = iso(event.created + 59_000)
    ivorn = f"ivo://local/{event.stream}#{event.dateobs}"
    extra = {}
    if content:
        extra["content"] = VOEVENT.format(
            ivorn=ivorn,
            date=event.dateobs,
            ra=event.center[0],
            dec=event.center[1],
            err=event.sigma,
            name=event.loc_name,
        )
    return {
        **extra,
        "stream": event.stream,
        "dateobs": event.dateobs,
        "has_localization": True,
        "id": event.id,
        "created_at": stamp,
        "ivorn": ivorn,
        "sent_by_id": 1,
        "notice_type": event.notice_type,
        "notice_format": "voevent",
        "date": event.dateobs,
        "localization_ingested": True,
        "modified": stamp,
    }


def event_record(event, *, full: bool, notice_content: bool = True) -> dict[str, Any]:
    """A GcnEvent dict (list form, or ``full`` with the localization arrays)."""
    stamp = iso(event.created)
    out: dict[str, Any] = {
        "trigger_id": None,
        "aliases": event.aliases,
        "id": event.id,
        "event_users_ids": None,
        "modified": stamp,
        "created_at": stamp,
        "dateobs": event.dateobs,
        "tach_id": None,
        "sent_by_id": 1,
    }
    if full:
        out.update({"gracedb_labels": {}, "gracedb_log": {}, "summaries": []})
    out["localizations"] = [localization_record(event, arrays=full, dist=False, full=full)]
    if full:
        out.update(
            {
                "comments": [],
                "detectors": [],
                "gcn_notices": [_notice(event, content=notice_content)],
                "gcn_triggers": [],
                "properties": [
                    {
                        "dateobs": event.dateobs,
                        "modified": stamp,
                        "data": event.properties,
                        "sent_by_id": 1,
                        "id": event.id,
                        "created_at": stamp,
                    }
                ]
                if event.properties
                else [],
                "gcnevent_users": [],
                "tags": event.tags,
                "lightcurve": None,
                "event_users": [],
            }
        )
    else:
        out.update(
            {
                "observationplan_requests": [],
                "gcn_notices": [_notice(event)],
                "gcn_triggers": [],
                "tags": event.tags,
            }
        )
    return out


def find_event(store, dateobs: str):
    """The event with this dateobs (fractions and a trailing Z ignored), or None."""
    try:
        key = iso(parse_time(dateobs))
    except ValueError:
        return None
    return store.events.get(key.split(".")[0])


class GcnEventListHandler(BaseHandler):
    """GET ``/api/gcn_event`` -> ``{events, totalMatches}`` (newest first)."""

    async def get(self) -> None:
        page, per = self.page_args(10, max_per_page=1000)
        start, end = self.time_arg("startDate"), self.time_arg("endDate")
        events = sorted(
            self.store.events.values(),
            key=lambda e: e.dateobs,
            reverse=(self.arg("sortOrder") or "desc").lower() == "desc",
        )
        if start is not None:
            events = [e for e in events if parse_time(e.dateobs) >= start]
        if end is not None:
            events = [e for e in events if parse_time(e.dateobs) <= end]
        keep = self.arg("gcnTagKeep")
        if keep:
            wanted = {t.strip() for t in keep.split(",")}
            events = [e for e in events if wanted & set(e.tags)]
        chosen = events[page_slice(len(events), page, per)]
        await self.success(
            {"events": [event_record(e, full=False) for e in chosen], "totalMatches": len(events)}
        )


class GcnEventHandler(BaseHandler):
    """GET ``/api/gcn_event/{dateobs}``: the event with its localization arrays."""

    async def get(self, dateobs: str) -> None:
        event = find_event(self.store, dateobs)
        if event is None:
            raise ApiError("GCN event not found", 404)
        with self.store.lock:
            rec = event_record(
                event, full=True, notice_content=not self.flag("excludeNoticeContent")
            )
        await self.success(rec)


class LocalizationHandler(BaseHandler):
    """GET ``/api/localization/{dateobs}/name/{name}`` (JSON) and ``.../download`` (FITS)."""

    def _event(self, dateobs: str, name: str):
        event = find_event(self.store, dateobs)
        if event is None or event.loc_name != name:
            raise ApiError("Localization not found", 404)
        return event

    async def get(self, dateobs: str, name: str, download: str | None = None) -> None:
        event = self._event(dateobs, name)
        with self.store.lock:
            if download:
                data = mocmap.to_fits(event.ensure_map(), name=name, dateobs=event.dateobs)
                stem = name[:-8] if name.endswith(".fits.gz") else name
                self.send_bytes(data, "application/fits", f"{stem}.multiorder.fits")
                return
            rec = localization_record(event, arrays=True, dist=True, full=False)
        rec.pop("tags", None)
        await self.success(rec)


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
    """GET ``/api/galaxy_catalog[/{ignored}]`` (pages with ``page``); POST ingests a catalog."""

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
        page, per = self.page_args(1000, page_name="page", max_per_page=10000)
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
        chosen = picked[page_slice(total, page, per)]
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
