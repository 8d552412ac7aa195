"""Sources: listing, one source, saving to groups, photometry, listings, finding charts."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core import BaseClient
from .frames import photometry_frame
from .transport import api_path, as_list, drop_none, new_id, one_of

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

MAGSYSTEMS = ("ab", "vega", "jla1", "bd17", "csp", "ab-b12")


class SourcesAPI(BaseClient):
    """``/api/sources``, ``/api/source_groups``, ``/api/photometry``, ``/api/listing``."""

    def list_sources(
        self,
        *,
        group_ids: Iterable[int] | None = None,
        created_or_modified_after: str | None = None,
        saved_after: str | None = None,
        saved_before: str | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        include_comments: bool | None = None,
        include_thumbnails: bool | None = None,
        page_size: int = 500,
        concurrency: int = 1,
        **params: Any,
    ) -> list[dict]:
        """Retrieve all sources (every page of ``GET /api/sources``).

        Dates are Arrow-parseable UTC strings (e.g. ``"2024-05-01T00:00:00"``);
        ``sort_by`` one of ``id, ra, dec, redshift, saved_at``. Any other filter of the
        API (``ra``, ``dec``, ``radius`` in degrees, ``sourceID``, ``localizationDateobs``,
        ...) passes through ``params`` under its SkyPortal name.
        """
        query = {
            "group_ids": group_ids,
            "createdOrModifiedAfter": created_or_modified_after,
            "savedAfter": saved_after,
            "savedBefore": saved_before,
            "sortBy": sort_by,
            "sortOrder": sort_order,
            "includeComments": include_comments,
            "includeThumbnails": include_thumbnails,
            **params,
        }
        records = self.iter_records(
            "/api/sources",
            drop_none(query),
            list_key="sources",
            page_size=page_size,
            concurrency=concurrency,
        )
        return list(records)

    def get_source(self, obj_id: str, **flags: Any) -> dict:
        """Retrieve a source by object id (``GET /api/sources/{obj_id}``).

        ``flags`` are the API's switches, e.g. ``includePhotometry=True``,
        ``includeComments=True``, ``includeThumbnails=True``.
        """
        return self.get(api_path("sources", obj_id), flags or None)

    def source_exists(self, obj_id: str) -> bool:
        """Whether a source exists and is visible to the token (``HEAD /api/sources/{obj_id}``)."""
        return self.head(api_path("sources", obj_id))

    def post_source(
        self,
        obj_id: str,
        ra: float,
        dec: float,
        *,
        group_ids: Iterable[int] | None = None,
        **fields: Any,
    ) -> str:
        """Add a new source (``POST /api/sources``) at ``ra``/``dec`` (degrees, J2000); return its id."""
        body = drop_none(
            {"id": obj_id, "ra": ra, "dec": dec, "group_ids": as_list(group_ids), **fields}
        )
        return new_id(self.post("/api/sources", body))

    def update_source(self, obj_id: str, **fields: Any) -> Any:
        """Update a source's fields (``PATCH /api/sources/{obj_id}``), e.g. ``redshift=0.05``."""
        return self.patch(api_path("sources", obj_id), fields)

    def get_source_groups(self, obj_id: str) -> list[dict]:
        """Basic info on the groups an object is saved to (``GET /api/sources/{obj_id}/groups``)."""
        return self.get(api_path("sources", obj_id, "groups"))

    def update_source_groups(
        self, obj_id: str, *, save_to: Iterable[int] = (), unsave_from: Iterable[int] = ()
    ) -> Any:
        """Save a source to (or request saving to) groups and/or unsave it from groups.

        ``POST /api/source_groups`` with ``objId``, ``inviteGroupIds``, ``unsaveGroupIds``.
        """
        body = {
            "objId": obj_id,
            "inviteGroupIds": as_list(save_to) or [],
            "unsaveGroupIds": as_list(unsave_from) or [],
        }
        return self.post("/api/source_groups", body)

    def save_source(self, obj_id: str, group_ids: Iterable[int]) -> Any:
        """Save a source (e.g. a candidate) to the given groups (``POST /api/source_groups``)."""
        return self.update_source_groups(obj_id, save_to=group_ids)

    def unsave_source(self, obj_id: str, group_ids: Iterable[int]) -> Any:
        """Remove a source from the given groups (``POST /api/source_groups``)."""
        return self.update_source_groups(obj_id, unsave_from=group_ids)

    def get_source_photometry(
        self, obj_id: str, *, format: str = "mag", magsys: str = "ab", **params: Any
    ) -> pd.DataFrame:
        """An object's photometry as a DataFrame (``GET /api/sources/{obj_id}/photometry``).

        ``format="mag"``: ``mag``, ``magerr``, ``limiting_mag`` (magnitudes in ``magsys``;
        ``mag`` NaN for a non-detection). ``format="flux"``: ``flux``, ``fluxerr`` at
        zero point ``zp`` (23.9 in AB, i.e. microJansky). ``mjd`` is MJD, ``ra``/``dec`` degrees.
        """
        one_of(format, ("mag", "flux"), "format")
        one_of(magsys, MAGSYSTEMS, "magsys")
        data = self.get(
            api_path("sources", obj_id, "photometry"),
            {"format": format, "magsys": magsys, **params},
        )
        return photometry_frame(data)

    def get_photometry(
        self, photometry_id: int, *, format: str = "mag", magsys: str = "ab"
    ) -> dict:
        """One photometry point (``GET /api/photometry/{id}``), in ``format`` mag or flux."""
        one_of(format, ("mag", "flux"), "format")
        return self.get(
            api_path("photometry", photometry_id),
            {"format": format, "magsys": one_of(magsys, MAGSYSTEMS, "magsys")},
        )

    def get_photometry_range(
        self,
        *,
        instrument_ids: Iterable[int] | None = None,
        min_date: str | None = None,
        max_date: str | None = None,
        format: str = "mag",
        magsys: str = "ab",
    ) -> pd.DataFrame:
        """Photometry of all objects taken between two UTC dates (``GET /api/photometry/range``).

        The real handler reads the range from a JSON body of the GET; proxies may drop
        such bodies, so the range also goes in the query string. Columns as in
        :meth:`get_source_photometry`.
        """
        one_of(format, ("mag", "flux"), "format")
        one_of(magsys, MAGSYSTEMS, "magsys")
        body = {
            "instrument_ids": as_list(instrument_ids),
            "min_date": min_date,
            "max_date": max_date,
        }
        query = {"format": format, "magsys": magsys, **drop_none(body)}
        data = self.get("/api/photometry/range", query, json=drop_none(body))
        return photometry_frame(data)

    def post_listing(
        self, obj_id: str, list_name: str, *, params: dict | None = None, user_id: int | None = None
    ) -> Any:
        """Add an object to one of the user's lists (``POST /api/listing``), e.g.
        ``"favorites"`` or ``"rejected_candidates"``; return the listing id."""
        body = drop_none(
            {"obj_id": obj_id, "list_name": list_name, "params": params, "user_id": user_id}
        )
        return new_id(self.post("/api/listing", body))

    def list_listings(self, user_id: int, list_name: str | None = None) -> list[dict]:
        """A user's object listings (``GET /api/listing/{user_id}``), optionally one list."""
        return self.get(api_path("listing", user_id), drop_none({"listName": list_name}))

    def get_offsets(
        self,
        obj_id: str,
        *,
        facility: str = "Keck",
        num_offset_stars: int | None = None,
        **params: Any,
    ) -> dict:
        """Offset stars for spectroscopy (``GET /api/sources/{obj_id}/offsets``); separations
        in arcsec, ``ra``/``dec`` degrees. ``facility``: Keck, Shane or P200."""
        query = drop_none({"facility": facility, "num_offset_stars": num_offset_stars, **params})
        return self.get(api_path("sources", obj_id, "offsets"), query)

    def get_finding_chart(
        self,
        obj_id: str,
        *,
        type: str = "pdf",
        imsize: float | None = None,
        facility: str | None = None,
        image_source: str | None = None,
        dest: str | os.PathLike | None = None,
        **params: Any,
    ) -> bytes | Path:
        """A PDF/PNG finding chart (``GET /api/sources/{obj_id}/finder``); ``imsize`` in
        arcmin (2-15). Returns the bytes, or the file written when ``dest`` is given."""
        query = drop_none(
            {
                "type": one_of(type, ("pdf", "png"), "type"),
                "imsize": imsize,
                "facility": facility,
                "image_source": image_source,
                **params,
            }
        )
        path = api_path("sources", obj_id, "finder")
        return self.download(path, dest, query) if dest is not None else self.get_bytes(path, query)
