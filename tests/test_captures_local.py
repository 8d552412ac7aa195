"""The local server answers each captured request with the shape the real SkyPortal gave.

For every file of ``../shared/reference/skyportal-live`` (per ``_index.json``) the same
request (method, path, query, POST body, and the same kind of Authorization header) is
sent to a ``LocalServer`` seeded with the captures' named objects. Its HTTP status must
match, and its JSON must have the same shape: the same keys, recursively, and the same
JSON types, where ``null`` on either side matches anything and list items are compared
as the union of all items (so truncated or differently long arrays are fine). Requests
with the admin token also go through the client, which must decode them the same way.

Known differences are marked ``xfail(strict=True)`` with the exact mismatch, so a fix on
the server side shows up as an XPASS to remove the mark.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from workbench.client import SkyPortalClient
from workbench.errors import SkyPortalError

pytestmark = pytest.mark.shared_data

LIVE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "skyportal-live"
INDEX: dict[str, dict] = (
    json.loads((LIVE / "_index.json").read_text()) if (LIVE / "_index.json").is_file() else {}
)

# The order the captures were made in, where state matters (README "Ordering notes").
SOURCE_GROUPS_SEQUENCE = [
    "POST_api_source_groups_response.json",
    "POST_api_source_groups_400_already_saved_response.json",
    "POST_api_source_groups_400_missing_params_response.json",
    "POST_api_source_groups_404_unknown_obj_response.json",
    "POST_api_source_groups_unsave_response.json",
    "POST_api_source_groups_resave_response.json",
]

# Objects whose keys are data, not schema (annotation payloads, per-filter statistics,
# colour tables): their values are compared as one merged shape, their keys not at all.
MAPS = re.compile(
    r"(annotations\[\]|^\.data\[\])\.data$|_per_filter$|\.mean_color$|\.bandpasses[A-Z]\w*$|\.altdata$"
)

# Known differences of the local server, reported to its engineer: name -> reason.
KNOWN_GAPS: dict[str, str] = {}


def ordered_captures() -> list[str]:
    names = sorted(INDEX)
    after = [n for n in names if "after" in n]
    groups = [n for n in SOURCE_GROUPS_SEQUENCE if n in INDEX]
    posts = [n for n in names if n.startswith("POST_") and n not in groups]
    gets = [n for n in names if n not in after and n not in groups and n not in posts]
    return gets + posts + groups + after


def params_for(name: str) -> Any:
    mark = [pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[name])] if name in KNOWN_GAPS else []
    return pytest.param(name, id=name.removesuffix(".json"), marks=mark)


# -- shapes ----------------------------------------------------------------------------


@dataclass
class Shape:
    """The JSON types seen at one place of a document, its keys, and its items' shape."""

    types: set[str] = field(default_factory=set)
    keys: dict[str, Shape] = field(default_factory=dict)
    items: Shape | None = None

    def add(self, value: Any) -> Shape:
        if value is None:
            self.types.add("null")
        elif isinstance(value, bool):
            self.types.add("boolean")
        elif isinstance(value, int | float):
            self.types.add("number")
        elif isinstance(value, str):
            self.types.add("string")
        elif isinstance(value, list):
            self.types.add("array")
            for item in value:
                self.items = (self.items or Shape()).add(item)
        elif isinstance(value, dict):
            self.types.add("object")
            for key, item in value.items():
                self.keys[key] = self.keys.get(key, Shape()).add(item)
        return self


def shape_of(value: Any) -> Shape:
    return Shape().add(value)


def mismatches(real: Shape, local: Shape, where: str = "") -> list[str]:
    """Where ``local`` departs from ``real`` (null and empty arrays match anything)."""
    real_t, local_t = real.types - {"null"}, local.types - {"null"}
    if not real_t or not local_t:
        return []
    if not local_t <= real_t:
        return [f"{where or '.'}: {sorted(local_t)} where the real server has {sorted(real_t)}"]
    out = []
    if "object" in real_t and "object" in local_t and MAPS.search(where):
        real_v, local_v = merged_values(real), merged_values(local)
        if real_v is not None and local_v is not None:
            out += mismatches(real_v, local_v, f"{where}.*")
    elif "object" in real_t and "object" in local_t:
        for key in sorted(set(real.keys) - set(local.keys)):
            out.append(f"{where}.{key}: missing")
        for key in sorted(set(local.keys) - set(real.keys)):
            out.append(f"{where}.{key}: not in the real answer")
        for key in sorted(set(real.keys) & set(local.keys)):
            out += mismatches(real.keys[key], local.keys[key], f"{where}.{key}")
    if real.items is not None and local.items is not None:
        out += mismatches(real.items, local.items, f"{where}[]")
    return out


def merged_values(obj: Shape) -> Shape | None:
    """One shape for all the values of a map-like object."""
    merged = None
    for value in obj.keys.values():
        merged = merged or Shape()
        merged.types |= value.types
        for key, sub in value.keys.items():
            merged.keys.setdefault(key, sub)
        merged.items = merged.items or value.items
    return merged


def test_shape_comparison_itself():
    real = {"a": [{"x": 1, "y": None}, {"x": 2, "z": "s"}], "b": None, "c": True}
    assert (
        mismatches(
            shape_of(real),
            shape_of({"a": [{"x": 5, "y": [1], "z": "t"}], "b": {"q": 1}, "c": False}),
        )
        == []
    )
    assert mismatches(shape_of(real), shape_of({"a": [], "b": 1, "c": None})) == []
    per_filter = {"peak_mag_per_filter": {"ztfg": 18.1}}
    assert (
        mismatches(
            shape_of(per_filter), shape_of({"peak_mag_per_filter": {"ztfi": 17.0, "ztfr": None}})
        )
        == []
    )
    assert mismatches(shape_of(per_filter), shape_of({"peak_mag_per_filter": {"ztfi": "17"}})) == [
        ".peak_mag_per_filter.*: ['string'] where the real server has ['number']"
    ]
    found = mismatches(shape_of(real), shape_of({"a": [{"x": "1"}], "c": 1, "d": 0}))
    assert sorted(found) == [
        ".a[].x: ['string'] where the real server has ['number']",
        ".a[].y: missing",
        ".a[].z: missing",
        ".b: missing",
        ".c: ['number'] where the real server has ['boolean']",
        ".d: not in the real answer",
    ]


# -- the local server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def local(shared_dir):
    server_mod = pytest.importorskip("workbench.server")
    with server_mod.LocalServer(sources=40, candidates=20, seed=7) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(local):
    return SkyPortalClient(local.url, token=local.token, rate_limit=None, max_retries=0)


def auth_header(entry: dict, token: str) -> dict[str, str]:
    auth = entry.get("auth") or ""
    if auth.startswith("admin token"):
        return {"Authorization": f"token {token}"}
    if auth.startswith("no Authorization"):
        return {}
    if "Bearer" in auth:
        return {"Authorization": f"Bearer {token}"}
    return {"Authorization": auth.removeprefix("Authorization: ").split(";")[0].strip()}


@pytest.mark.parametrize("name", [params_for(n) for n in ordered_captures()])
def test_local_server_answers_like_the_real_one(local, client, name):
    entry = INDEX[name]
    real = json.loads((LIVE / entry["file"]).read_text())
    body_file = entry.get("request_body_file")
    body = json.loads((LIVE / body_file).read_text()) if body_file else None
    query = {k: str(v) for k, v in entry["query"].items()}
    if entry["method"] == "GET" and entry.get("auth", "").startswith("admin token"):
        check_client_decodes(client, entry, query, real)
    resp = requests.request(
        entry["method"], local.url + entry["path"], params=query, json=body,
        headers=auth_header(entry, local.token), timeout=60,
    )  # fmt: skip
    assert resp.status_code == entry["status"], resp.text[:300]
    local_shape = shape_of(resp.json())
    # missing keys and wrong types against this capture; extra keys against every
    # capture of the endpoint (one capture may just not show an optional key)
    problems = [p for p in mismatches(shape_of(real), local_shape) if "not in the real" not in p]
    problems += [p for p in mismatches(family_shape(entry), local_shape) if "not in the real" in p]
    assert problems == [], "\n".join(problems[:40])


def family_shape(entry: dict) -> Shape:
    """The merged shape of every capture of the same method, path and outcome."""
    merged = Shape()
    for other in INDEX.values():
        same = (other["method"], other["path"], other["status"] < 400)
        if same == (entry["method"], entry["path"], entry["status"] < 400):
            merged.add(json.loads((LIVE / other["file"]).read_text()))
    return merged


def check_client_decodes(client: SkyPortalClient, entry: dict, query: dict, real: dict) -> None:
    try:
        client.get(entry["path"], query or None)
    except SkyPortalError as exc:
        assert entry["status"] >= 400, f"the client raised {exc!r} for a capture that succeeded"
        assert exc.status == entry["status"]
        assert isinstance(exc.message, str) and exc.message
    else:
        assert entry["status"] < 400, "the client accepted what the real server refused"
