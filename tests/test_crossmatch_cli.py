"""``workbench crossmatch``: outputs checked before the work, clear messages (issue 9)."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from workbench.cli import main
from workbench.skymap_synthetic import gaussian_skymap, multiorder_fits_bytes


@pytest.fixture
def inputs(tmp_path):
    sky = gaussian_skymap(40.0, 10.0, 2.0, distmean=100.0, diststd=20.0, max_order=7)
    fits = tmp_path / "map.fits"
    fits.write_bytes(multiorder_fits_bytes(sky))
    pd.DataFrame({"ra": [40.0, 200.0], "dec": [10.0, -30.0]}).to_csv(
        tmp_path / "pos.csv", index=False
    )
    return fits, tmp_path / "pos.csv"


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = main(["crossmatch", *argv])
    return code, capsys.readouterr().err


def test_out_into_a_missing_folder_is_refused_before_the_work(inputs, tmp_path, capsys):
    _fits, pos = inputs
    # A broken map would fail the work: the output check must come first.
    broken = tmp_path / "broken.fits"
    broken.write_bytes(b"SIMPLE  =                    T" + b"\0" * 100)
    out = tmp_path / "missing" / "o.csv"
    code, err = _run(capsys, str(broken), "--positions", str(pos), "--out", str(out))
    assert code == 1 and "does not exist" in err and "missing" in err and "broken" not in err
    assert not out.parent.exists()  # nothing created behind the user's back


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_out_into_a_read_only_folder_is_refused(inputs, tmp_path, capsys):
    fits, pos = inputs
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        code, err = _run(capsys, str(fits), "--positions", str(pos), "--out", str(ro / "o.csv"))
    finally:
        ro.chmod(0o700)
    assert code == 1 and "not writable" in err


def test_a_missing_skymap_path_says_so(inputs, tmp_path, capsys):
    _fits, pos = inputs
    for missing in (tmp_path / "nope.fits", "nope.fits.gz"):
        code, err = _run(
            capsys, str(missing), "--positions", str(pos), "--out", str(tmp_path / "o.csv")
        )
        assert code == 1 and "no such file" in err and "ISO-8601" not in err, err


def test_report_needs_counterparts(inputs, tmp_path, capsys):
    fits, pos = inputs
    code, err = _run(
        capsys, str(fits), "--positions", str(pos), "--out", str(tmp_path / "o.csv"),
        "--report", str(tmp_path / "r.html"),
    )  # fmt: skip
    assert code == 1 and "--counterparts" in err
