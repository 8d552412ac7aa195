"""The seeded synthetic sky as compact numpy columns, deterministic for (seed, sizes).

Only per-object *parameters* live here (position, class, light-curve shape, counts);
light curves, spectra arrays, comments' text and thumbnails are generated on demand
from ``(seed, object index)`` by :mod:`.lightcurve`, :mod:`.spectrum` and
:mod:`.thumbs`. The five objects of the SkyPortal captures come first (indices 0-4) so
that a request copied from a capture works locally.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import healpy as hp
import numpy as np

from .columns import Columns
from .timeutil import US_PER_DAY, mjd_to_us, parse_time, us_to_mjd

ANCHOR_US = parse_time("2026-11-01T00:00:00")  # "now" of the seed; data spreads before it
# "afterglow" (a fast-fading, kilonova-/afterglow-like transient) is never drawn at random:
# it is the GW event's planted counterpart only, so KIND_P covers the first seven kinds.
KINDS = ["Ia", "II", "Ibc", "periodic", "agn", "tde", "bogus", "afterglow"]
KIND_P = [0.37, 0.24, 0.08, 0.15, 0.08, 0.03, 0.05]
HEALPIX_NSIDE = 2**29  # SkyPortal's Obj.healpix: NESTED index at order 29
GW_CENTER = (12.83, -25.20)  # the 2019-08-14 GW event of the captures
GW_DATEOBS = "2019-08-14T21:10:39"
GW_DISTANCE = (267.4, 51.6)  # its luminosity distance, mean and sigma (Mpc)
GW_SIGMA = 1.2  # its angular Gaussian width (degrees)
GROUP_CAPACITY = 16

# (id, ra, dec, redshift, kind, created, origin, alias, altdata, peak_mjd, peak_mag,
#  (lc_start, lc_end), n_phot, groups, candidate passes [(filter, passed_at)])
NAMED: list[tuple[Any, ...]] = [
    (
        "ZTF26abmjjnm",
        12.30653,
        35.56105,
        np.nan,
        "Ibc",
        "2026-08-07T11:17:43.296000",
        None,
        None,
        None,
        61259.46,
        18.69,
        (61254.96, 61259.48),
        6,
        (1, 3),
        [(1, "2026-08-07T11:20:12.532114")],
    ),
    (
        "ZTFrlh6cyjh",
        342.4596,
        51.2634,
        np.nan,
        "periodic",
        "2019-10-20T09:13:51.104000",
        None,
        None,
        {"simbad": {"class": "EB"}},
        58760.0,
        16.1,
        (58640.0, 58780.3),
        60,
        (1, 3, 4),
        [(1, "2020-10-30T11:23:06.475748")],
    ),
    (
        "ZTFe028h94k",
        229.9620403,
        34.8442757,
        np.nan,
        "periodic",
        "2019-08-20T04:45:47.808015",
        None,
        ["SN2020abc"],
        {"simbad": {"class": "RRLyr"}},
        58700.0,
        15.8,
        (58600.0, 58715.2),
        80,
        (1, 3, 4),
        [(1, "2020-10-30T11:13:06.475748")],
    ),
    (
        "ZTF21aaqjmps",
        202.5050541,
        13.4111859,
        0.0246,
        "II",
        "2021-03-21T06:27:01.996040",
        "ZTF",
        ["SN 2021gvm"],
        None,
        59315.34,
        17.23,
        (59265.37, 59403.19),
        174,
        (1, 3, 4),
        [(1, "2021-03-21T06:31:40.116250"), (2, "2021-03-21T06:31:40.118820")],
    ),
    (
        "ZTF18aabcvnq",
        172.0534465,
        25.6596908,
        np.nan,
        "periodic",
        "2018-04-25T04:13:20.000000",
        "ZTF",
        ["AT 2018cbj"],
        None,
        58200.0,
        16.9,
        (58150.0, 58233.2),
        90,
        (1, 3, 4),
        [(1, "2018-04-25T04:13:26.000000"), (2, "2018-04-25T04:13:26.000000")],
    ),
]
N_NAMED = len(NAMED)


@dataclass
class Sky:
    """Everything seeded, as columns; the :class:`~.store.Store` adds what is posted."""

    seed: int
    objs: Columns
    saved_at: np.ndarray  # (objects, group slots) epoch µs, -1 = not saved
    saved_by: np.ndarray  # (objects, group slots) user id
    group_slot: dict[int, int]
    cands: Columns
    n_seeded: int
    extra: dict[str, Any] = field(default_factory=dict)


def build_sky(seed: int, n_sources: int, n_candidates: int) -> Sky:
    """Seed ``n_sources`` saved sources and ``n_candidates`` candidate objects.

    Both counts include the five named capture objects (all five are saved sources and
    candidates), so smaller values are raised to 5. Deterministic for (seed, sizes).
    """
    if n_sources < 0 or n_candidates < 0:
        raise ValueError("sources and candidates must be >= 0")
    rng = np.random.default_rng([seed, 1])
    n_gen_src = max(0, n_sources - N_NAMED)
    n_gen_cand = max(0, n_candidates - N_NAMED)
    n_cand_src = min(n_gen_src, round(0.3 * n_gen_cand))
    n_unsaved = n_gen_cand - n_cand_src
    n = N_NAMED + n_gen_src + n_unsaved

    kind = rng.choice(len(KIND_P), size=n, p=KIND_P).astype(np.int8)
    ra = rng.uniform(0.0, 360.0, n)
    dec = np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(-30.0)), 1.0, n)))
    created = ANCHOR_US - rng.integers(US_PER_DAY, 730 * US_PER_DAY, n)
    unsaved = slice(N_NAMED + n_gen_src, n)
    created[unsaved] = ANCHOR_US - rng.integers(US_PER_DAY // 24, 45 * US_PER_DAY, n_unsaved)
    extragalactic = np.isin(kind, [0, 1, 2, 4, 5])
    z = np.where(kind == 4, rng.uniform(0.05, 0.9, n), rng.uniform(0.008, 0.12, n))
    z = np.where(extragalactic & (rng.random(n) < 0.7), np.round(z, 4), np.nan)
    plant = gw_plant(seed)
    _place_gw_counterparts(plant, ra, dec, z, kind, created, n_gen_src)
    later = rng.random(n) < 0.3
    modified = created + np.where(later, rng.integers(0, 60 * US_PER_DAY, n), 0)
    modified = np.minimum(modified, ANCHOR_US)

    created_mjd = us_to_mjd(created)
    transient = np.isin(kind, [0, 1, 2, 5])
    # an object is created by its first alert, so it is detectable then: rise a few days
    rise = rng.uniform(3.0, 12.0, n)
    peak_mjd = np.where(transient, created_mjd + rise, created_mjd)
    peak_mag = np.where(transient, rng.uniform(16.5, 19.0, n), rng.uniform(15.0, 19.0, n))
    lc_start = created_mjd - np.where(transient, rng.uniform(3.0, 15.0, n), 300.0)
    span = np.where(transient, rng.uniform(40.0, 160.0, n), rng.uniform(60.0, 300.0, n))
    lc_end = np.minimum(created_mjd + span, us_to_mjd(ANCHOR_US))
    lc_end = np.maximum(lc_end, created_mjd + 0.5)  # at least the discovery night
    n_phot = np.clip((lc_end - lc_start) / rng.uniform(1.0, 3.0, n), 8, 400).astype(np.int64)
    n_phot[unsaved] = np.minimum(n_phot[unsaved], 40)
    _shape_gw_light_curves(
        plant, created, (peak_mjd, peak_mag, lc_start, lc_end, n_phot), n_gen_src
    )
    # the candidate stream and its hidden truth come from their own generator, so that the
    # rest of the sky does not move when the stream's model changes
    crng = np.random.default_rng([seed, 17])
    stream = _candidate_stream(
        crng,
        _pick_candidate_sources(crng, n_gen_src, n_cand_src),
        np.arange(N_NAMED + n_gen_src, n),
        kind,
        created,
        modified,
        z,
        (peak_mjd, peak_mag, lc_start, lc_end, n_phot),
    )

    ids = _ztf_names(rng, created)
    origin = np.where(rng.random(n) < 0.8, "ZTF", None).astype(object)
    alias = np.full(n, None, dtype=object)
    altdata = np.full(n, None, dtype=object)
    for i, named in enumerate(NAMED):
        (
            ids[i],
            ra[i],
            dec[i],
            z[i],
            k,
            when,
            origin[i],
            alias[i],
            altdata[i],
            peak_mjd[i],
            peak_mag[i],
            (lc_start[i], lc_end[i]),
            n_phot[i],
            _,
            _,
        ) = named
        kind[i] = KINDS.index(k)
        created[i] = modified[i] = parse_time(when)
    stream.real[:N_NAMED] = np.isin(kind[:N_NAMED], _REAL_KINDS)
    n_comm = np.where(rng.random(n) < 0.25, rng.integers(1, 4, n), 0).astype(np.int64)
    n_comm[3] = 3

    objs = Columns(
        {
            "id": ids,
            "ra": ra,
            "dec": dec,
            "redshift": z,
            "kind": kind,
            "created": created,
            "modified": modified,
            "origin": origin,
            "alias": alias,
            "altdata": altdata,
            "peak_mjd": peak_mjd,
            "peak_mag": peak_mag,
            "lc_start": lc_start,
            "lc_end": lc_end,
            "period": rng.uniform(0.25, 20.0, n),
            "n_phot": n_phot,
            "phot_base": np.concatenate([[0], np.cumsum(n_phot)[:-1]]).astype(np.int64),
            "n_comm": n_comm,
            "comm_base": np.concatenate([[0], np.cumsum(n_comm)[:-1]]).astype(np.int64),
            "healpix": hp.ang2pix(HEALPIX_NSIDE, ra, dec, nest=True, lonlat=True).astype(np.int64),
            "gen": np.ones(n, dtype=bool),
            "real": stream.real,
        }
    )
    saved_at, saved_by, slots = _saves(rng, n, n_gen_src, created)
    cands = _candidates(rng, n, stream.picked, N_NAMED + n_gen_src, created)
    _stream_decisions(crng, stream, cands, saved_at, slots)
    return Sky(
        seed=seed,
        objs=objs,
        saved_at=saved_at,
        saved_by=saved_by,
        group_slot=slots,
        cands=cands,
        n_seeded=n,
        extra={"stream": stream},
    )


def _ztf_names(rng: np.random.Generator, created: np.ndarray) -> np.ndarray:
    """``ZTF`` + two-digit year of creation + seven lowercase letters, all distinct."""
    n = len(created)
    years = (created // (US_PER_DAY * 36525 // 100) + 70) % 100  # years since 1900, mod 100
    letters = rng.integers(0, 26, (n, 7), dtype=np.uint8) + ord("a")
    tails = letters.view("S7").ravel().astype(str)
    out = np.array([f"ZTF{y:02d}{t}" for y, t in zip(years, tails, strict=True)], dtype=object)
    seen: set[str] = set()
    for i, name in enumerate(out):
        while name in seen:
            extra = "".join(chr(c) for c in rng.integers(0, 26, 7) + ord("a"))
            name = f"{name[:5]}{extra}"
        seen.add(name)
        out[i] = name
    return out


@dataclass(frozen=True)
class GwPlant:
    """Where the GW event's planted counterpart and its host lie (deterministic per seed).

    Positions in degrees, distance in Mpc (luminosity), ``first_mjd`` the counterpart's
    first detection (MJD, 1.3-2.6 days after the event), ``first_mag`` its r magnitude then.
    """

    event_mjd: float
    host_ra: float
    host_dec: float
    host_dist: float
    host_z: float
    ra: float
    dec: float
    first_mjd: float
    first_mag: float


def _redshift_of(dist_mpc: float) -> float:
    """Planck18 redshift of a luminosity distance (Mpc), to ~1e-4 below z = 0.1.

    The third-order expansion of D_L(z) (H0 = 67.66 km/s/Mpc, q0 = Om/2 - OL = -0.5355,
    j0 = 1) inverted by Newton's method: closed form, so seeding needs no astropy (whose
    import costs ~0.6 s per server start); checked against astropy's Planck18 in the tests.
    """
    hubble = 299_792.458 / 67.66  # c / H0, Mpc
    q0, j0 = 0.30966 / 2 - (1 - 0.30966), 1.0
    a2, a3 = (1 - q0) / 2, -(1 - q0 - 3 * q0**2 + j0) / 6
    z = dist_mpc / hubble
    for _ in range(6):
        f = hubble * (z + a2 * z**2 + a3 * z**3) - dist_mpc
        z -= f / (hubble * (1 + 2 * a2 * z + 3 * a3 * z**2))
    return float(z)


def gw_plant(seed: int) -> GwPlant:
    """The counterpart planted in the GW event's localization, and its host galaxy.

    The host lies at the heart of the 90% region (0.03-0.1 deg from the centre, the map's
    sigma being 1.2 deg) at the event's mean distance (to 0.3%), so it is the most probable
    galaxy around (see :func:`.gcn.build_galaxies`); the counterpart is 2-8 arcsec (about
    2.5-10 kpc) from it.
    """
    rng = np.random.default_rng([seed, 29])
    cos_dec = np.cos(np.radians(GW_CENTER[1]))
    offset, towards = rng.uniform(0.03, 0.1), rng.uniform(0.0, 2 * np.pi)  # degrees, radians
    host_ra = GW_CENTER[0] + offset * np.cos(towards) / cos_dec
    host_dec = GW_CENTER[1] + offset * np.sin(towards)
    host_dist = GW_DISTANCE[0] * (1.0 + rng.normal(0.0, 0.003))
    sep = rng.uniform(2.0, 8.0) / 3600.0  # degrees
    angle = rng.uniform(0.0, 2 * np.pi)
    event_mjd = float(us_to_mjd(parse_time(GW_DATEOBS)))
    # ZTF observes Palomar at night: MJD fraction 0.15-0.45; the event came at 0.88, so the
    # first night after it starts ~0.27 d later. Detected on the 2nd or 3rd night after.
    night = np.floor(event_mjd) + int(rng.integers(2, 4))
    return GwPlant(
        event_mjd=event_mjd,
        host_ra=float(host_ra),
        host_dec=float(host_dec),
        host_dist=float(host_dist),
        host_z=round(_redshift_of(host_dist), 5),
        ra=float(host_ra + sep * np.cos(angle) / cos_dec),
        dec=float(host_dec + sep * np.sin(angle)),
        first_mjd=float(night + rng.uniform(0.18, 0.4)),
        first_mag=float(rng.uniform(18.9, 19.4)),
    )


def _place_gw_counterparts(plant, ra, dec, z, kind, created, n_gen_src) -> None:
    """Put three generated sources inside the GW event's 90% region: the counterpart and
    two impostors a scanner has to rule out.

    0. the counterpart: a fast-fading "afterglow" 2-8 arcsec from its host, first seen
       1.3-2.6 days after the event, redshift of its host (distance consistent);
    1. a SN Ia already rising 6-12 days before the event (excluded as "prior");
    2. a SN II rising after the event (observed from the night after it, its first alert
       4-9 days after), slowly (~0.01-0.1 mag/day), farther out in the region (credible
       level 0.45-0.75), nearby (z ~ 0.012, ~55 Mpc: inconsistent with the event's
       distance) and far from the catalog's galaxies in the volume.
    """
    rng = np.random.default_rng([7, n_gen_src])
    event_us = parse_time(GW_DATEOBS)
    cos_dec = np.cos(np.radians(GW_CENTER[1]))
    for j in range(min(3, n_gen_src)):
        i = N_NAMED + j
        if j == 0:
            ra[i], dec[i] = plant.ra, plant.dec
            kind[i], z[i] = KINDS.index("afterglow"), plant.host_z
            created[i] = mjd_to_us(plant.first_mjd)  # the first alert is the first detection
            continue
        # a radius at the wanted 2D credible level of a Gaussian map: r = sigma sqrt(-2 ln(1-cl))
        level = rng.uniform(0.2, 0.6) if j == 1 else rng.uniform(0.45, 0.75)
        radius = GW_SIGMA * np.sqrt(-2.0 * np.log(1.0 - level))
        angle = rng.uniform(0.0, 2 * np.pi)
        ra[i] = GW_CENTER[0] + radius * np.cos(angle) / cos_dec
        dec[i] = GW_CENTER[1] + radius * np.sin(angle)
        if j == 1:
            kind[i], z[i] = KINDS.index("Ia"), np.nan
            created[i] = event_us - int(rng.integers(6 * US_PER_DAY, 12 * US_PER_DAY))
        else:
            kind[i], z[i] = KINDS.index("II"), round(float(rng.uniform(0.010, 0.014)), 4)
            created[i] = event_us + int(rng.integers(4 * US_PER_DAY, 9 * US_PER_DAY))


def _shape_gw_light_curves(plant, created, curve, n_gen_src) -> None:
    """Light-curve parameters of the planted GW sources (see :func:`_place_gw_counterparts`).

    The counterpart's curve is laid out by :func:`.lightcurve.generate` ("afterglow"): two
    pre-event visits (the last one deeper than the first detection), then g and r nightly
    while it fades; ``lc_start`` is the first pre-event visit, ``peak_mjd`` the first
    detection. The SN II is observed from the night after the event only, so its first
    detection cannot precede the event.
    """
    peak_mjd, peak_mag, lc_start, lc_end, n_phot = curve
    if n_gen_src >= 1:
        i = N_NAMED
        lc_start[i] = np.floor(plant.event_mjd) - 2.0 + 0.3
        peak_mjd[i] = plant.first_mjd
        peak_mag[i] = plant.first_mag
        lc_end[i] = plant.first_mjd + AFTERGLOW_NIGHTS
        n_phot[i] = 2 * (2 + AFTERGLOW_NIGHTS)
    if n_gen_src >= 3:
        i = N_NAMED + 2
        lc_start[i] = max(lc_start[i], np.floor(plant.event_mjd) + 1.0)


AFTERGLOW_NIGHTS = 7  # nights of g+r follow-up of the counterpart after its first detection


def _saves(rng, n, n_gen_src, created):
    slots = {gid: gid - 1 for gid in range(1, 9)}
    saved_at = np.full((n, GROUP_CAPACITY), -1, dtype=np.int64)
    saved_by = np.zeros((n, GROUP_CAPACITY), dtype=np.int16)
    gen = slice(N_NAMED, N_NAMED + n_gen_src)
    probs = {1: 0.85, 2: 0.1, 3: 0.4, 4: 0.3}
    for gid, p in probs.items():
        hit = rng.random(n_gen_src) < p
        delay = rng.integers(US_PER_DAY // 100, 2 * US_PER_DAY, n_gen_src)
        saved_at[gen, slots[gid]] = np.where(hit, created[gen] + delay, -1)
    none = (saved_at[gen] < 0).all(axis=1)
    saved_at[gen, 0][none] = created[gen][none] + US_PER_DAY // 10
    saved_by[gen] = np.where(
        rng.random((n_gen_src, 1)) < 0.8, 1, rng.integers(2, 5, (n_gen_src, 1))
    )
    for i, named in enumerate(NAMED):
        for gid in named[13]:
            saved_at[i, slots[gid]] = created[i] + 623_000
            saved_by[i, slots[gid]] = 1
    saved_at = np.minimum(saved_at, ANCHOR_US)
    return saved_at, saved_by, slots


def _candidates(rng, n, picked, unsaved_start, created) -> Columns:
    """Candidate rows (obj, filter, passed_at): named, some saved sources, the unsaved rest."""
    objs: list[int] = []
    filters: list[int] = []
    passed: list[int] = []
    for i, named in enumerate(NAMED):
        for fid, when in named[14]:
            objs.append(i)
            filters.append(fid)
            passed.append(parse_time(when))
    chosen = np.concatenate([picked, np.arange(unsaved_start, n)]).astype(np.int64)
    passes = rng.integers(1, 4, len(chosen))
    for obj, k in zip(chosen, passes, strict=True):
        first = created[obj] + int(rng.integers(60_000_000, 3_600_000_000))
        for j in range(k):
            objs.append(int(obj))
            filters.append(int(rng.integers(1, 3)))
            passed.append(
                min(first + j * int(rng.integers(3_600_000_000, 2 * US_PER_DAY)), ANCHOR_US)
            )
    m = len(objs)
    return Columns(
        {
            "id": np.arange(1, m + 1, dtype=np.int64),
            "obj": np.array(objs, dtype=np.int64),
            "filter_id": np.array(filters, dtype=np.int64),
            "passed_at": np.array(passed, dtype=np.int64),
            "uploader_id": np.ones(m, dtype=np.int64),
            "deleted": np.zeros(m, dtype=bool),
        }
    )


@dataclass
class Stream:
    """The candidate stream's hidden truth (issue 11), per candidate object.

    ``real`` (one per object of the sky) is the truth: a genuine extragalactic transient
    (Ia, II, Ibc, TDE) rather than a bogus subtraction or a variable (periodic, AGN).
    It is never served. It drives the groups' seeded decisions, noisily: Program A
    (group 3) saves real transients, Program B (group 4) real *bright* ones (peak brighter
    than 18 mag); and it shows, noisily, in the light curve (history length, rise, colour,
    amplitude, peak magnitude), the redshift and the real-bogus ``drb`` (which only tells
    bogus apart, not variables: ``score`` order alone cannot learn a group's taste).
    """

    picked: np.ndarray  # saved sources that are candidates (object indices)
    objs: np.ndarray  # every generated candidate object, saved ones first
    real: np.ndarray  # (objects,) bool
    want: dict[int, np.ndarray]  # group id -> bool per ``objs``: the group saves it
    saved: np.ndarray  # bool per ``objs``: in ``picked``


STREAM_WINDOW_DAYS = 90.0  # candidate objects are created within this many days of ANCHOR
STREAM_P_REAL = 0.4
_REAL_KINDS = (KINDS.index("Ia"), KINDS.index("II"), KINDS.index("Ibc"), KINDS.index("tde"))
_REAL_P = (0.5, 0.3, 0.13, 0.07)
_OTHER_KINDS = (KINDS.index("bogus"), KINDS.index("periodic"), KINDS.index("agn"))
_OTHER_P = (0.45, 0.35, 0.2)


def _pick_candidate_sources(rng: np.random.Generator, n_gen_src: int, k: int) -> np.ndarray:
    """Which saved sources are also candidates (not the GW counterparts when avoidable)."""
    start = N_NAMED + (min(3, n_gen_src) if n_gen_src - 3 >= k else 0)
    pool = np.arange(start, N_NAMED + n_gen_src)
    return np.sort(rng.choice(pool, size=k, replace=False)) if k else pool[:0]


def _candidate_stream(rng, picked, unsaved, kind, created, modified, z, curve) -> Stream:
    """Redraw the candidate objects from the truth model; the saved ones are the objects
    some group wanted most (so the counts of sources and candidates stay as asked)."""
    peak_mjd, peak_mag, lc_start, lc_end, n_phot = curve
    k, m = len(picked), len(unsaved)
    nc = k + m
    real_v = rng.random(nc) < STREAM_P_REAL
    mag_v = np.where(real_v, rng.uniform(16.5, 19.5, nc), rng.uniform(15.0, 19.5, nc))
    # each group's wish for a candidate: its taste plus the scanner's noise
    u3 = 2.2 * real_v + rng.normal(0.0, 0.9, nc)
    u4 = 1.0 * real_v + 1.8 * (real_v & (mag_v < 18.0)) - 0.4 + rng.normal(0.0, 0.9, nc)
    best = np.maximum(u3, u4)
    order = np.argsort(-best, kind="stable")
    objs = np.empty(nc, dtype=np.int64)
    objs[order[:k]] = picked
    objs[order[k:]] = unsaved
    saved_v = np.zeros(nc, dtype=bool)
    saved_v[order[:k]] = True
    threshold = best[order[k - 1]] if k else np.inf
    want = {3: saved_v & (u3 >= threshold), 4: saved_v & (u4 >= threshold)}
    # kinds, times and light-curve shapes of the candidate objects, from the truth
    kinds = np.where(
        real_v, rng.choice(_REAL_KINDS, nc, p=_REAL_P), rng.choice(_OTHER_KINDS, nc, p=_OTHER_P)
    ).astype(np.int8)
    when = ANCHOR_US - rng.integers(US_PER_DAY // 24, int(STREAM_WINDOW_DAYS * US_PER_DAY), nc)
    zz = np.where(
        kinds == KINDS.index("agn"), rng.uniform(0.05, 0.9, nc), rng.uniform(0.008, 0.12, nc)
    )
    extragalactic = np.isin(kinds, [0, 1, 2, 4, 5])
    zz = np.where(extragalactic & (rng.random(nc) < 0.7), np.round(zz, 4), np.nan)
    mjd0 = us_to_mjd(when)
    transient = np.isin(kinds, [0, 1, 2, 5])
    start = mjd0 - np.where(transient, rng.uniform(3.0, 15.0, nc), 300.0)
    span = np.where(transient, rng.uniform(40.0, 160.0, nc), rng.uniform(60.0, 300.0, nc))
    end = np.maximum(np.minimum(mjd0 + span, us_to_mjd(ANCHOR_US)), mjd0 + 0.5)
    kind[objs] = kinds
    created[objs] = when
    modified[objs] = when
    z[objs] = zz
    peak_mjd[objs] = np.where(transient, mjd0 + rng.uniform(3.0, 12.0, nc), mjd0)
    peak_mag[objs] = mag_v
    lc_start[objs] = start
    lc_end[objs] = end
    # saved or not, a candidate's light curve is sampled alike (a count must not tell)
    n_phot[objs] = np.clip((end - start) / rng.uniform(1.0, 3.0, nc), 8, 40).astype(np.int64)
    real = np.isin(kind, _REAL_KINDS)
    real[objs] = real_v
    return Stream(
        picked=objs[:0] if k == 0 else np.sort(picked),
        objs=objs,
        real=real,
        want=want,
        saved=saved_v,
    )


def _stream_decisions(rng, stream: Stream, cands: Columns, saved_at, slots) -> None:
    """The groups' past decisions on the candidate stream: saves after the first pass, to
    the groups that wanted the object; each such candidate passed that group's filter."""
    from .refdata import FILTERS

    filter_of = {gid: fid for fid, (gid, _sid, _name) in FILTERS.items()}
    rows_of: dict[int, list[int]] = {}
    for row, obj in enumerate(cands["obj"]):
        rows_of.setdefault(int(obj), []).append(row)
    filters = cands["filter_id"]
    passed = cands["passed_at"]
    for j in np.flatnonzero(stream.saved):
        obj = int(stream.objs[j])
        rows = rows_of[obj]
        first = int(passed[rows].min())
        saved_at[obj, :] = -1
        # one filter per pass: a candidate that passed once went to one group's scanners
        groups = [g for g in (3, 4) if stream.want[g][j]][: len(rows)]
        for n_row, gid in enumerate(groups):
            if filter_of[gid] not in filters[rows]:
                filters[rows[min(n_row, len(rows) - 1)]] = filter_of[gid]
        extra = [1] if rng.random() < 0.85 else []
        extra += [2] if rng.random() < 0.1 else []
        for gid in groups + extra:
            delay = int(rng.integers(US_PER_DAY // 20, 2 * US_PER_DAY))
            saved_at[obj, slots[gid]] = min(first + delay, ANCHOR_US)


def mjd_now() -> float:
    """MJD of the seed's anchor ("now" for generated light curves)."""
    return us_to_mjd(ANCHOR_US)


__all__ = [
    "ANCHOR_US",
    "GW_DATEOBS",
    "KINDS",
    "NAMED",
    "N_NAMED",
    "STREAM_WINDOW_DAYS",
    "GwPlant",
    "Sky",
    "Stream",
    "build_sky",
    "gw_plant",
    "mjd_now",
    "mjd_to_us",
]
