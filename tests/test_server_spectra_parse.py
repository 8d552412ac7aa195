"""The local server's /api/spectra/parse/ascii answers what a live SkyPortal 1.4.0 answered
on the real spectra (``../shared/reference/spectra-parse/``)."""

from __future__ import annotations

import ast
import json

import numpy as np
import pytest
import requests

pytestmark = pytest.mark.shared_data


def captures(shared_dir):
    folder = shared_dir / "reference" / "spectra-parse"
    return sorted(folder.glob("*.json"))


def test_local_parse_endpoint_matches_live_skyportal(server, shared_dir):
    checked = 0
    for path in captures(shared_dir):
        capture = json.loads(path.read_text())
        request = dict(capture["request"])
        text = (shared_dir / "data" / "spectra" / request.pop("ascii_file")).read_text()
        r = requests.post(
            f"{server.url}/api/spectra/parse/ascii",
            json={"ascii": text, **request},
            headers=server.headers,
            timeout=60,
        )
        theirs = capture["response"]
        if isinstance(theirs, str):
            theirs = ast.literal_eval(theirs)
        assert r.status_code == capture["http_status"], path.name
        if r.status_code != 200:
            assert r.json()["status"] == "error" and r.json()["message"], path.name
            continue
        ours, data = r.json()["data"], theirs["data"]
        np.testing.assert_array_equal(ours["wavelengths"], data["wavelengths"])
        np.testing.assert_array_equal(ours["fluxes"], data["fluxes"])
        assert (ours.get("errors") is None) == (data.get("errors") is None), path.name
        assert (ours.get("altdata") or {}).keys() == (data.get("altdata") or {}).keys(), path.name
        checked += 1
    assert checked >= 4
