"""The fixed part of the synthetic SkyPortal: users, groups, streams, filters,
instruments, taxonomies, ``/api/config`` and ``/api/sysinfo``.

Shapes and key names follow SkyPortal 1.4.0's answers (``skyportal-live/`` captures);
the values are this project's own. Group ids are those of the captures: 1 "Sitewide
Group", 2 the admin's single-user group "provisioned-admin", 3 "Program A", 4 "Program B",
5-8 the single-user groups of four more users.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .timeutil import parse_time

VERSION = "1.4.0"
INSTALLED_US = parse_time("2025-01-06T17:42:11.204518")
ADMIN_ID = 1

USERS: list[dict[str, Any]] = [
    {"id": 1, "username": "provisioned-admin", "first_name": "provisioned", "last_name": "admin"},
    {"id": 2, "username": "testadmin", "first_name": "Test", "last_name": "Admin"},
    {"id": 3, "username": "groupadmin", "first_name": "Grace", "last_name": "Hopper"},
    {"id": 4, "username": "fulluser", "first_name": "Vera", "last_name": "Rubin"},
    {"id": 5, "username": "viewonlyuser", "first_name": "Henrietta", "last_name": "Leavitt"},
]
# (id, name, single_user_group, created offset in seconds after installation)
GROUPS: list[tuple[int, str, bool, float]] = [
    (1, "Sitewide Group", False, 0.0),
    (2, "provisioned-admin", True, 0.0),
    (3, "Program A", False, 42.176),
    (4, "Program B", False, 42.202),
    (5, "testadmin", True, 42.226),
    (6, "groupadmin", True, 42.384),
    (7, "fulluser", True, 42.413),
    (8, "viewonlyuser", True, 42.440),
]
STREAMS = [
    {"id": 1, "name": "ZTF Public", "altdata": {"selector": [1], "collection": "ZTF_alerts"}},
    {
        "id": 2,
        "name": "ZTF Public+Partnership",
        "altdata": {"selector": [1, 2], "collection": "ZTF_alerts"},
    },
]
GROUP_STREAMS = {1: [], 3: [2], 4: [1]}
# filter id -> (group id, stream id, name)
FILTERS = {1: (3, 2, "Program A transients"), 2: (4, 1, "Program B fast risers")}
ADMIN_GROUP_IDS = [1, 2]

TELESCOPES = {
    1: dict(
        name="Palomar 48 inch",
        nickname="P48",
        lat=33.3563,
        lon=-116.8648,
        elevation=1706.0,
        diameter=1.2,
        robotic=True,
    ),
    2: dict(
        name="Palomar 60 inch",
        nickname="P60",
        lat=33.3563,
        lon=-116.8648,
        elevation=1706.0,
        diameter=1.52,
        robotic=True,
    ),
    3: dict(
        name="Nordic Optical Telescope",
        nickname="NOT",
        lat=28.7572,
        lon=-17.8851,
        elevation=2382.0,
        diameter=2.56,
        robotic=False,
    ),
    5: dict(
        name="Keck I Telescope",
        nickname="Keck1",
        lat=19.8283,
        lon=-155.478,
        elevation=4145.0,
        diameter=10.0,
        robotic=False,
    ),
    6: dict(
        name="Liverpool Telescope",
        nickname="LT",
        lat=28.7624,
        lon=-17.8792,
        elevation=2363.0,
        diameter=2.0,
        robotic=True,
    ),
}
# instrument id -> (name, type, band, telescope id)
INSTRUMENTS = {
    1: ("ZTF", "imager", "optical", 1),
    2: ("ALFOSC", "imaging spectrograph", "V", 3),
    3: ("SEDM", "imaging spectrograph", "optical", 2),
    4: ("LRIS", "spectrograph", "optical", 5),
    9: ("SPRAT", "spectrograph", "optical", 6),
}
SPECTROGRAPHS = [2, 3, 4, 9]
ZTF_FILTERS = ["ztfg", "ztfr", "ztfi"]


def _stamp(offset_s: float) -> int:
    return INSTALLED_US + round(offset_s * 1e6)


def user_record(user_id: int, iso: Any, *, gravatar: bool = False) -> dict[str, Any]:
    """A full User dict as SkyPortal embeds it (``saved_by``, ``author``, ``owner``)."""
    base = next((u for u in USERS if u["id"] == user_id), USERS[0])
    stamp = iso(_stamp(0.0 if user_id == 1 else 42.1 + user_id / 100))
    out = {
        "username": base["username"],
        "first_name": base["first_name"],
        "last_name": base["last_name"],
        "bio": None,
        "affiliations": [],
        "contact_email": None,
        "contact_phone": None,
        "oauth_uid": None,
        "is_bot": False,
        "expiration_date": None,
        "id": base["id"],
        "modified": stamp,
        "created_at": stamp,
    }
    if gravatar:
        out["gravatar_url"] = gravatar_url(base["username"])
    return out


def user_brief(user_id: int) -> dict[str, Any]:
    """The short author dict of ``/api/sources/{id}/comments``."""
    base = next((u for u in USERS if u["id"] == user_id), USERS[0])
    return {
        "username": base["username"],
        "first_name": base["first_name"],
        "last_name": base["last_name"],
        "gravatar_url": gravatar_url(base["username"]),
        "is_bot": False,
    }


def gravatar_url(username: str) -> str:
    """A gravatar-style URL derived from the user name (no e-mail address exists here)."""
    digest = hashlib.md5(username.encode(), usedforsecurity=False).hexdigest()
    return f"https://secure.gravatar.com/avatar/{digest}?d=blank"


def group_record(group: dict[str, Any], iso: Any) -> dict[str, Any]:
    """The Group dict SkyPortal embeds in sources, comments and annotations."""
    return {
        "name": group["name"],
        "nickname": group.get("nickname"),
        "description": group.get("description"),
        "private": False,
        "auto_accept_requests": False,
        "single_user_group": group["single_user_group"],
        "id": group["id"],
        "modified": iso(group["modified"]),
        "created_at": iso(group["created_at"]),
    }


def initial_groups() -> dict[int, dict[str, Any]]:
    """The seed's groups keyed by id (created_at/modified in epoch microseconds)."""
    out = {}
    for gid, name, single, offset in GROUPS:
        stamp = _stamp(offset)
        out[gid] = {
            "id": gid,
            "name": name,
            "single_user_group": single,
            "nickname": None,
            "description": None,
            "created_at": stamp,
            "modified": stamp,
        }
    return out


def stream_record(stream: dict[str, Any], iso: Any, *, brief: bool = False) -> dict[str, Any]:
    """A Stream dict; ``brief`` gives the ``{id, name}`` form of ``all_groups``."""
    if brief:
        return {"id": stream["id"], "name": stream["name"]}
    stamp = iso(_stamp(43.0 + stream["id"] / 20))
    return {
        "altdata": stream["altdata"],
        "id": stream["id"],
        "created_at": stamp,
        "name": stream["name"],
        "auto_join": False,
        "modified": stamp,
    }


def instrument_record(instrument_id: int, iso: Any) -> dict[str, Any]:
    """An Instrument dict with its telescope, as embedded in spectra and assignments."""
    name, kind, band, tel_id = INSTRUMENTS.get(instrument_id, INSTRUMENTS[1])
    stamp = iso(_stamp(45.0 + instrument_id / 10))
    tel = TELESCOPES[tel_id]
    telescope = {
        "lon": tel["lon"],
        "name": tel["name"],
        "mpc_obscode": None,
        "skycam_link": None,
        "fixed_location": True,
        "modified": stamp,
        "created_at": stamp,
        "lat": tel["lat"],
        "nickname": tel["nickname"],
        "elevation": tel["elevation"],
        "diameter": tel["diameter"],
        "weather_link": None,
        "robotic": tel["robotic"],
        "id": tel_id,
    }
    return {
        "telescope_id": tel_id,
        "listener_classname": None,
        "modified": stamp,
        "filters": ZTF_FILTERS if instrument_id == 1 else [],
        "treasuremap_id": None,
        "created_at": stamp,
        "sensitivity_data": None,
        "tns_id": None,
        "name": name,
        "configuration_data": None,
        "across_id": None,
        "type": kind,
        "last_status_update": None,
        "has_fields": instrument_id == 1,
        "api_classname": None,
        "has_region": False,
        "band": band,
        "api_classname_obsplan": None,
        "id": instrument_id,
        "telescope": telescope,
    }


VARIABLE_TAXONOMY = {
    "class": "Variable Taxonomy",
    "subclasses": [
        {
            "class": "phenomenological",
            "subclasses": [
                {"class": "variable"},
                {"class": "non-variable"},
                {
                    "class": "periodic",
                    "subclasses": [{"class": "sinusoidal"}, {"class": "sawtooth"}],
                },
                {
                    "class": "eclipsing",
                    "subclasses": [{"class": "EA"}, {"class": "EB"}, {"class": "EW"}],
                },
                {"class": "bogus", "subclasses": [{"class": "ccd artifact"}, {"class": "galaxy"}]},
            ],
        },
        {
            "class": "intrinsic",
            "subclasses": [
                {"class": "pulsator", "subclasses": [{"class": "RR Lyrae"}, {"class": "Cepheid"}]},
                {"class": "binary star"},
                {"class": "AGN"},
                {"class": "YSO"},
                {"class": "CV"},
            ],
        },
    ],
}


def initial_taxonomies() -> dict[int, dict[str, Any]]:
    """Taxonomy 1 is the real ``tdtax`` tree; taxonomy 2 a small variable-star one."""
    import tdtax  # imported here: it validates its YAML with jsonschema (~2 s)

    t1 = _stamp(3600.0 + 0.1695)
    t2 = _stamp(3600.0 + 0.2478)
    return {
        1: {
            "id": 1,
            "name": "Demo taxonomy",
            "hierarchy": tdtax.taxonomy,
            "version": tdtax.__version__,
            "provenance": "https://github.com/profjsb/timedomain-taxonomy",
            "isLatest": True,
            "group_ids": [3, 4],
            "created_at": t1,
            "modified": t1,
        },
        2: {
            "id": 2,
            "name": "Variables Taxonomy",
            "hierarchy": VARIABLE_TAXONOMY,
            "version": "demo",
            "provenance": None,
            "isLatest": True,
            "group_ids": [3, 4],
            "created_at": t2,
            "modified": t2,
        },
    }


def sysinfo() -> dict[str, Any]:
    """``/api/sysinfo``: a git log whose items have the real keys (objects, not strings)."""
    entries = [
        ("2026-10-30T16:02:11-07:00", "5e1d0c2a7", "Serve localizations as multi-order FITS", 9),
        ("2026-10-28T09:45:03-07:00", "a4f9b3310", "Clamp numPerPage to 500", 8),
        ("2026-10-21T13:12:40-07:00", "91c07d2ee", "Seed a synthetic sky deterministically", 7),
    ]
    out = []
    for when, sha, text, pr in entries:
        out.append(
            {
                "time": when,
                "sha": sha,
                "email": "noreply@localhost",
                "description": text,
                "pr_nr": str(pr),
                "pr_url": f"http://127.0.0.1/local/pull/{pr}",
                "commit_url": f"http://127.0.0.1/local/commit/{sha}",
                "name": None,
            }
        )
    return {"gitlog": out}


def config() -> dict[str, Any]:
    """``/api/config`` with the keys of SkyPortal 1.4.0 and this server's own values."""
    palette = [
        f"#{int(40 + i * 0.8):02x}{int(20 + i * 0.9):02x}{int(60 + i * 0.5):02x}"
        for i in range(256)
    ]
    wavelengths = {
        "ztfg": 4783.5,
        "ztfr": 6417.4,
        "ztfi": 7867.4,
        "sdssu": 3594.3,
        "sdssg": 4717.6,
        "sdssr": 6186.8,
        "sdssi": 7506.2,
        "sdssz": 8918.3,
    }
    colors = {
        "ztfg": [40, 167, 69],
        "ztfr": [220, 53, 69],
        "ztfi": [242, 212, 0],
        "sdssu": [0, 0, 255],
        "sdssg": [0, 128, 0],
        "sdssr": [255, 0, 0],
        "sdssi": [255, 165, 0],
        "sdssz": [128, 0, 0],
    }
    params = [
        ("name", "Planck18"),
        ("H0", "67.66 km / (Mpc s)"),
        ("Om0", "0.30966"),
        ("Tcmb0", "2.7255 K"),
        ("Neff", "3.046"),
        ("m_nu", "[0.   0.   0.06] eV"),
        ("Ob0", "0.04897"),
    ]
    return {
        "slackPreamble": "https://hooks.slack.com/",
        "invitationsEnabled": False,
        "photometryDisplayEndpoint": None,
        "cosmology": 'FlatLambdaCDM(name="Planck18", H0=67.66 km / (Mpc s), Om0=0.30966, '
        "Tcmb0=2.7255 K, Neff=3.046, m_nu=[0.   0.   0.06] eV, Ob0=0.04897)",
        "cosmologyParams": [{"name": k, "value": v} for k, v in params],
        "openai_summary_apikey_set": False,
        "openai_summary_parameters": {
            "temperature": 0.3,
            "max_tokens": 350,
            "top_p": 1.0,
            "frequency_penalty": 0.0,
            "model": "none",
            "presence_penalty": 1.0,
            "prompt": "",
        },
        "cosmoref": "Planck18 (Planck Collaboration 2020, A&A 641, A6), as in astropy",
        "allowedAllocationTypes": ["triggered", "forced_photometry", "observation_plan"],
        "allowedSpectrumTypes": ["source", "host", "host_center"],
        "defaultSpectrumType": "source",
        "gcnNoticeTypes": [
            "FERMI_GBM_FIN_POS",
            "LVC_PRELIMINARY",
            "LVC_INITIAL",
            "LVC_UPDATE",
            "ICECUBE_ASTROTRACK_GOLD",
            "ICECUBE_ASTROTRACK_BRONZE",
        ],
        "gcnSummaryAcknowledgements": ["Synthetic data served by the local workbench server."],
        "maxNumDaysUsingLocalization": 3720,
        "allowedRecurringAPIMethods": ["POST", "GET"],
        "classificationsClasses": {
            "classification": {"variable": "#3a87ad", "Time-domain Source": "#ff0000"},
            "origin": {"SCoPe": "#3a87ad"},
        },
        "summary_sourcesClasses": [
            {"score": 0.9, "fw": "bold", "col": "green"},
            {"score": 0.8, "fw": "bold", "col": "black"},
            {"score": 0.7, "fw": "normal", "col": "black"},
            {"score": 0.0, "fw": "normal", "col": "grey"},
        ],
        "tnsAllowedInstruments": ["alfosc", "sedm", "lris", "sprat", "ztf"],
        "allowedInstrumentsForSharing": ["alfosc", "sedm", "lris", "sprat", "ztf"],
        "gcnTagsClasses": {
            "BNS": "#468847",
            "NSBH": "#b94a48",
            "BBH": "#333333",
            "GRB": "#f89406",
            "AMON": "#3a87ad",
            "Significant": "#8B008B",
            "retracted": "#ffffff",
        },
        "colorPalette": palette,
        "bandpassesColors": colors,
        "bandpassesWavelengths": wavelengths,
        "usePinecone": False,
        "usePhotometryValidation": True,
        "authBackends": [],
        "publicGroupName": "Sitewide Group",
        "shareDataWithPublicGroupByDefault": False,
    }
