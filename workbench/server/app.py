"""The Tornado application: the route table of the local SkyPortal-compatible server."""

from __future__ import annotations

import logging

import tornado.web

from .handlers import (
    admin,
    candidates,
    classifications,
    galaxies,
    gcn,
    generic,
    info,
    misc,
    photometry,
    sources,
    spectra,
)
from .handlers.base import Context, InvalidEndpoint
from .resources import SPECS

log = logging.getLogger("workbench.server")
OBJ = r"([^/]+)"
RES = r"(sources|spectra|gcn_event)"
SPEC = r"(?:spectra|spectrum)"  # not captured: the handlers take the same arguments


def routes() -> list[tuple[str, type]]:
    """(pattern, handler) pairs; the catch-all answers 400 "Invalid API endpoint"."""
    return [
        (r"/api/sysinfo/?", info.SysInfoHandler),
        (r"/api/config/?", info.ConfigHandler),
        (r"/api/internal/profile/?", info.ProfileHandler),
        (r"/api/groups/?", info.GroupsHandler),
        (r"/api/groups/public/?", info.PublicGroupHandler),
        (r"/api/groups/(\d+)/?", info.GroupHandler),
        (r"/api/taxonomy/?", info.TaxonomyListHandler),
        (r"/api/taxonomy/([^/]+)/?", info.TaxonomyHandler),
        (r"/api/sources/?", sources.SourceListHandler),
        (rf"/api/sources/{OBJ}/photometry/?", sources.SourcePhotometryHandler),
        (rf"/api/sources/{OBJ}/spectra/?", sources.SourceSpectraHandler),
        (rf"/api/sources/{OBJ}/classifications/?", sources.SourceClassificationsHandler),
        (rf"/api/sources/{OBJ}/groups/?", sources.SourceGroupsListHandler),
        (rf"/api/{RES}/{OBJ}/comments/?", misc.CommentsHandler),
        (rf"/api/{RES}/{OBJ}/comments/(\w+)/?", misc.CommentsHandler),
        (rf"/api/{RES}/{OBJ}/comments/(\w+)/(attachment)(?:\.pdf)?/?", misc.CommentsHandler),
        (rf"/api/(sources|spectra)/{OBJ}/annotations/?", misc.AnnotationsHandler),
        (rf"/api/(sources|spectra)/{OBJ}/annotations/(\w+)/?", misc.AnnotationsHandler),
        (rf"/api/sources/{OBJ}/?", sources.SourceHandler),
        (r"/api/source_groups/?", sources.SourceGroupsHandler),
        (r"/api/candidates/?", candidates.CandidateListHandler),
        (rf"/api/candidates/{OBJ}/?", candidates.CandidateHandler),
        (rf"/api/candidates/{OBJ}/(\d+)/?", candidates.CandidateHandler),
        (r"/api/classification/?", classifications.ClassificationListHandler),
        (r"/api/classification/(\d+)/?", classifications.ClassificationHandler),
        # SkyPortal 1.4.0 serves the spectrum family under both /api/spectra and /api/spectrum
        (rf"/api/{SPEC}/?", spectra.SpectraHandler),
        (rf"/api/{SPEC}/ascii/?", spectra.SpectrumAsciiHandler),
        (rf"/api/{SPEC}/parse/ascii/?", spectra.SpectrumParseHandler),
        (rf"/api/{SPEC}/range/?", spectra.SpectraRangeHandler),
        (rf"/api/{SPEC}/(\d+)/?", spectra.SpectrumHandler),
        (r"/api/photometry/?", photometry.PhotometryPostHandler),
        (r"/api/photometry/range/?", photometry.PhotometryRangeHandler),
        (r"/api/photometry/(\d+)/?", photometry.PhotometryHandler),
        (r"/api/galaxy_catalog/?", galaxies.GalaxyCatalogHandler),
        (r"/api/galaxy_catalog/([^/]+)/?", galaxies.GalaxyCatalogHandler),
        (r"/api/gcn_event/?", gcn.GcnEventListHandler),
        (r"/api/gcn_event/([^/]+)/?", gcn.GcnEventHandler),
        (r"/api/localization/([^/]+)/name/([^/]+?)/?", gcn.LocalizationHandler),
        (r"/api/localization/([^/]+)/name/([^/]+?)/(download)/?", gcn.LocalizationHandler),
        (r"/api/listing/?", misc.ListingHandler),
        (r"/api/listing/(\d+)/?", misc.ListingHandler),
        (r"/api/followup_request/schedule/(\d+)/?", generic.ScheduleHandler),
        (r"/api/followup_request/prioritization/?", generic.PrioritizationHandler),
        (r"/api/photometry_request/(\d+)/?", generic.PhotometryRequestHandler),
        (r"/api/facility/?", generic.FacilityHandler),
        (rf"/api/sources/{OBJ}/offsets/?", generic.OffsetsHandler),
        (rf"/api/sources/{OBJ}/finder/?", generic.FinderHandler),
        (r"/api/spectra/synthphot/(\d+)/?", generic.SynthPhotHandler),
        (r"/api/spectrum/tns/(\d+)/?", generic.TNSHandler),
        (r"/api/db_stats/?", generic.DBStatsHandler),
        (r"/api/filters/(\d+)/v/?", generic.FilterVersionHandler),
        (r"/static/thumbnails/(.+)", misc.ThumbnailHandler),
        (r"/_workbench/health/?", admin.HealthHandler),
        (r"/_workbench/behaviour/?", admin.BehaviourHandler),
        (r"/_workbench/stats/?", admin.StatsHandler),
        (r"/_workbench/mutate/?", admin.MutateHandler),
        (r"/api/.*", InvalidEndpoint),
    ]


def resource_routes() -> list[tuple[str, type, dict]]:
    """Routes of the table-driven resources (collection and item)."""
    out = []
    for name in SPECS:
        out.append((rf"/api/{name}/?", generic.ResourceHandler, {"name": name}))
        out.append((rf"/api/{name}/(\d+)/?", generic.ResourceHandler, {"name": name}))
    return out


def make_app(ctx: Context) -> tornado.web.Application:
    """The application serving ``ctx``'s store with ``ctx``'s behaviour."""
    table = [(p, h, {"ctx": ctx}) for p, h in routes()]
    table[-1:-1] = [(p, h, {"ctx": ctx, **kw}) for p, h, kw in resource_routes()]
    return tornado.web.Application(
        table, compress_response=False, serve_traceback=False, log_function=_log
    )


def _log(handler: tornado.web.RequestHandler) -> None:
    """Access log at debug level only: tests provoke 4xx on purpose, and URLs are redacted."""
    from ..redact import redact

    log.debug(
        "%d %s %s %.1fms",
        handler.get_status(),
        handler.request.method,
        redact(handler.request.uri),
        1000 * handler.request.request_time(),
    )
