"""What the bulk upserts write: the typed columns of each table of the current schema.

A column's name is the server's JSON key (docs/ARCHITECTURE.md); ``key`` names a different
record key when the row builder computes the value itself. Every table also has ``raw``
(the record's JSON), ``raw_hash`` and ``cached_at``, which the bulk layer adds. A test
checks these specs against the tables the migrations create.
"""

from __future__ import annotations

from dataclasses import dataclass

# Column kinds: how a Python value becomes an Arrow value and then a DuckDB value.
KINDS = {"str", "float", "int", "bool", "ts", "json", "floats", "blob", "hash"}


@dataclass(frozen=True)
class Col:
    """One typed column: its name and kind (see :data:`KINDS`)."""

    name: str
    kind: str


@dataclass(frozen=True)
class TableSpec:
    """A cache table as the bulk upserts see it.

    ``keys``: the primary key columns. ``merge``: the record's JSON is merged into the
    stored one (key by key, the new value winning) because the server returns partial
    views of the same entity (a source list row, a single source, a candidate).
    ``carry``: columns kept from the stored row when the new row says so (``_carry``).
    """

    name: str
    keys: tuple[str, ...]
    cols: tuple[Col, ...]
    merge: bool = False
    carry: tuple[str, ...] = ()
    local_rows: bool = False  # has action_id: rows the outbox added locally, kept by syncs
    #: ``raw`` keeps only what no typed column holds identically (the hash still covers the
    #: whole record): for big tables whose raw JSON would repeat every typed value
    lean: bool = False

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.cols] + ["raw", "raw_hash"]


def _cols(spec: str) -> tuple[Col, ...]:
    out = []
    for item in spec.split():
        name, kind = item.split(":")
        assert kind in KINDS, kind
        out.append(Col(name, kind))
    return tuple(out)


OBJS = TableSpec(
    "objs",
    ("id",),
    _cols("""
    id:str ra:float dec:float ra_err:float dec_err:float redshift:float redshift_error:float
    origin:str alias:json tns_name:str internal_key:str score:float t0:float transient:bool
    varstar:bool is_roid:bool healpix:int gal_lon:float gal_lat:float ebv:float
    luminosity_distance:float dm:float angular_diameter_distance:float host_id:int
    altdata:json created_at:ts modified:ts"""),
    merge=True,
)

SOURCES = TableSpec(
    "sources",
    ("obj_id", "group_id"),
    _cols("""
    obj_id:str group_id:int saved_at:ts saved_by_id:int saved_by:str active:bool
    requested:bool"""),
    local_rows=True,
)

CANDIDATES = TableSpec(
    "candidates",
    ("obj_id",),
    _cols("""
    obj_id:str filter_id:int filter_ids:json passing_group_ids:json passed_at:ts
    last_detected_at:ts is_source:bool saved_group_ids:json score:float"""),
    merge=True,
)

PHOTOMETRY = TableSpec(
    "photometry",
    ("id",),
    _cols("""
    id:int obj_id:str mjd:float mag:float magerr:float limiting_mag:float flux:float
    fluxerr:float zp:float magsys:str filter:str instrument_id:int instrument_name:str
    origin:str ra:float dec:float ra_unc:float dec_unc:float snr:float altdata:json
    created_at:ts"""),
    lean=True,
)

SPECTRA = TableSpec(
    "spectra",
    ("id",),
    _cols("""
    id:int obj_id:str observed_at:ts instrument_id:int instrument_name:str
    telescope_name:str type:str label:str units:str origin:str altdata:json
    wavelengths:floats fluxes:floats errors:floats data_hash:hash created_at:ts
    modified:ts"""),
    merge=True,
    carry=("wavelengths", "fluxes", "errors", "data_hash"),
    local_rows=True,
)

CLASSIFICATIONS = TableSpec(
    "classifications",
    ("id",),
    _cols("""
    id:int obj_id:str classification:str taxonomy_id:int probability:float ml:bool
    origin:str author_id:int author_name:str created_at:ts modified:ts"""),
    merge=True,
    local_rows=True,
)

TAXONOMIES = TableSpec(
    "taxonomies",
    ("id",),
    _cols("""
    id:int name:str version:str provenance:str isLatest:bool hierarchy:json group_ids:json
    created_at:ts modified:ts"""),
)

GROUPS = TableSpec(
    "groups",
    ("id",),
    _cols("""
    id:int name:str nickname:str description:str private:bool single_user_group:bool
    is_member:bool is_accessible:bool created_at:ts modified:ts"""),
)

COMMENTS = TableSpec(
    "comments",
    ("id",),
    _cols("""
    id:int obj_id:str text:str author_id:int author:str bot:bool origin:str
    attachment_name:str group_ids:json created_at:ts modified:ts"""),
    merge=True,
    local_rows=True,
)

ANNOTATIONS = TableSpec(
    "annotations",
    ("id",),
    _cols("""
    id:int obj_id:str origin:str author_id:int data:json group_ids:json created_at:ts
    modified:ts"""),
    merge=True,
)

THUMBNAILS = TableSpec(
    "thumbnails",
    ("obj_id", "type"),
    _cols("""
    obj_id:str type:str id:int public_url:str file_uri:str origin:str is_grayscale:bool
    created_at:ts modified:ts url:str content_type:str png:blob fetched_at:ts"""),
    merge=True,
    carry=("url", "content_type", "png", "fetched_at"),
)

GALAXIES = TableSpec(
    "galaxies",
    ("id",),
    _cols("""
    id:int catalog_name:str catalog_id:int name:str alt_name:str ra:float dec:float
    distmpc:float distmpc_unc:float redshift:float redshift_error:float mstar:float
    magb:float magk:float sfr_fuv:float sfr_w4:float healpix:int created_at:ts
    modified:ts"""),
)

GCN_EVENTS = TableSpec(
    "gcn_events",
    ("dateobs",),
    _cols("""
    dateobs:ts id:int aliases:json tags:json trigger_id:str created_at:ts modified:ts"""),
    merge=True,
)

LOCALIZATIONS = TableSpec(
    "localizations",
    ("dateobs", "localization_name"),
    _cols("""
    dateobs:ts localization_name:str id:int notice_id:int n_pixels:int has_distance:bool
    pixels_hash:hash pixels_modified:ts created_at:ts modified:ts"""),
    merge=True,
    carry=("n_pixels", "has_distance", "pixels_hash", "pixels_modified"),
)

SPECS = {
    s.name: s
    for s in (
        OBJS,
        SOURCES,
        CANDIDATES,
        PHOTOMETRY,
        SPECTRA,
        CLASSIFICATIONS,
        TAXONOMIES,
        GROUPS,
        COMMENTS,
        ANNOTATIONS,
        THUMBNAILS,
        GALAXIES,
        GCN_EVENTS,
        LOCALIZATIONS,
    )
}

# Tables whose rows belong to one obj: deleting an obj removes its rows here too.
OBJ_CHILDREN = (
    "sources",
    "candidates",
    "photometry",
    "spectra",
    "classifications",
    "comments",
    "annotations",
    "thumbnails",
)

# Tables `delete_rows` accepts, with their key columns.
DELETABLE = {
    **{name: spec.keys for name, spec in SPECS.items()},
    "vetting": ("id",),
    "outbox": ("id",),
    "sync_state": ("resource", "scope"),
}
