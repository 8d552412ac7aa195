"""GCN events, their localizations (skymaps) and galaxy catalogs."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core import BaseClient
from .frames import galaxies_frame
from .pagination import GalaxyPaginator
from .transport import api_path, drop_none

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def dateobs_text(dateobs: str | datetime) -> str:
    """An event's ``dateobs`` as SkyPortal writes it in URLs: ``2019-08-14T21:10:39``."""
    if isinstance(dateobs, datetime):
        text = dateobs.replace(tzinfo=None).isoformat()
        return text[:-7] if text.endswith(".000000") else text
    return str(dateobs).strip()


class GcnAPI(BaseClient):
    """``/api/gcn_event``, ``/api/localization``, ``/api/galaxy_catalog``."""

    def list_gcn_events(
        self,
        *,
        start_date: str | None = None,
        end_date: str | None = None,
        page_size: int = 100,
        concurrency: int = 1,
        **params: Any,
    ) -> list[dict]:
        """Retrieve GCN events (every page of ``GET /api/gcn_event``).

        ``start_date``/``end_date`` filter ``dateobs`` (UTC). Tag and property filters
        (``gcnTagKeep``, ``localizationTagKeep``, ...) pass through ``params``.
        """
        query = drop_none({"startDate": start_date, "endDate": end_date, **params})
        records = self.iter_records(
            "/api/gcn_event", query, list_key="events", page_size=page_size, concurrency=concurrency
        )
        return list(records)

    def get_gcn_event(
        self, dateobs: str | datetime, *, exclude_notice_content: bool | None = None
    ) -> dict:
        """Retrieve a GCN event with its localizations (``GET /api/gcn_event/{dateobs}``).

        Embedded skymaps make this 1-2 MB per event on the real server.
        """
        query = drop_none({"excludeNoticeContent": exclude_notice_content})
        return self.get(api_path("gcn_event", dateobs_text(dateobs)), query)

    def get_localization(
        self, dateobs: str | datetime, name: str, *, include_2d_map: bool | None = None
    ) -> dict:
        """A localization as JSON (``GET /api/localization/{dateobs}/name/{name}``).

        Multi-order arrays: ``uniq``, ``probdensity`` (per steradian) and, for 3D maps,
        ``distmu``/``distsigma`` (Mpc) and ``distnorm`` (Mpc^-2).
        """
        path = api_path("localization", dateobs_text(dateobs), "name", name)
        return self.get(path, drop_none({"include2DMap": include_2d_map}))

    def download_localization(
        self, dateobs: str | datetime, name: str, dest: str | os.PathLike | None = None
    ) -> bytes | Path:
        """A localization's multi-order FITS skymap (``GET /api/localization/{dateobs}/name/{name}/download``).

        Returns the bytes, or the file written when ``dest`` (a file or a folder) is given.
        """
        path = api_path("localization", dateobs_text(dateobs), "name", name, "download")
        if dest is None:
            return self.get_bytes(path)
        target = Path(dest).expanduser()
        if target.is_dir():  # name the file after the map, not after the URL's "download"
            target = target / (Path(str(name).replace("\\", "/")).name or "skymap.fits")
        return self.download(path, target)

    def list_galaxy_catalogs(self) -> list[dict]:
        """The galaxy catalogs and their sizes (``GET /api/galaxy_catalog?catalogNamesOnly=true``)."""
        return self.get("/api/galaxy_catalog", {"catalogNamesOnly": True})

    def list_galaxies(
        self,
        catalog_name: str | None = None,
        *,
        localization_dateobs: str | datetime | None = None,
        localization_name: str | None = None,
        localization_cumprob: float | None = None,
        page_size: int = 1000,
        concurrency: int = 1,
        **params: Any,
    ) -> pd.DataFrame:
        """Retrieve all galaxies of a catalog (``GET /api/galaxy_catalog``, by ``pageNumber``).

        Optionally only those inside a localization's ``localization_cumprob`` credible
        region (0-1). Columns: ``id, name, ra, dec`` (degrees), ``distmpc``,
        ``distmpc_unc`` (Mpc), ``mstar`` (solar masses), ``magb``, ``magk`` (mag),
        ``redshift``, ``catalog_name``, then the server's other fields. Spatial and
        distance filters (``ra``, ``dec``, ``radius`` in degrees, ``minDistance`` in Mpc,
        ...) pass through ``params``.
        """
        query = {
            "catalog_name": catalog_name,
            "localizationDateobs": dateobs_text(localization_dateobs)
            if localization_dateobs
            else None,
            "localizationName": localization_name,
            "localizationCumprob": localization_cumprob,
            **params,
        }
        records = self.iter_records(
            "/api/galaxy_catalog",
            drop_none(query),
            paginator=GalaxyPaginator(),
            page_size=page_size,
            concurrency=concurrency,
        )
        return galaxies_frame(list(records), catalog_name)

    def post_galaxy_catalog(self, catalog_name: str, catalog_data: Any) -> Any:
        """Ingest a galaxy catalog (``POST /api/galaxy_catalog``).

        ``catalog_data``: a dict of columns (``name``, ``ra``, ``dec`` in degrees,
        ``distmpc`` in Mpc, ...) or a DataFrame, converted to columns of lists.
        """
        if hasattr(catalog_data, "to_dict"):
            catalog_data = catalog_data.to_dict(orient="list")
        return self.post(
            "/api/galaxy_catalog", {"catalog_name": catalog_name, "catalog_data": catalog_data}
        )
