"""read_skymap: every layout the field publishes, URLs, SkyPortal JSON, and clear refusals."""

from __future__ import annotations

import gzip
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import healpy as hp
import numpy as np
import pytest
from astropy.io import fits

from workbench.errors import ConnectionFailed, SkymapError
from workbench.skymap import Skymap, read_skymap
from workbench.skymap_synthetic import (
    FlatMap,
    flat_fits_bytes,
    gaussian_flat,
    gaussian_skymap,
    multiorder_fits_bytes,
)


@pytest.fixture(scope="module")
def sky3d() -> Skymap:
    return gaussian_skymap(80.0, 10.0, 4.0, distmean=250.0, diststd=60.0, max_order=7, name="S3D")


@pytest.fixture(scope="module")
def flat() -> FlatMap:
    return gaussian_flat(80.0, 10.0, 4.0, nside=64, distmean=250.0, diststd=60.0)


def _same(a: Skymap, b: Skymap) -> None:
    assert np.array_equal(a.uniq, b.uniq)
    assert np.array_equal(a.probdensity, b.probdensity)
    for layer in ("distmu", "distsigma", "distnorm"):
        assert np.array_equal(getattr(a, layer), getattr(b, layer)) or getattr(a, layer) is None


# ---------------------------------------------------------------- layouts


@pytest.mark.parametrize("gz", [False, True])
def test_multiorder_fits_from_a_path_bytes_and_str(tmp_path, sky3d, gz):
    raw = multiorder_fits_bytes(sky3d, gzip=gz)
    path = tmp_path / ("m.fits.gz" if gz else "m.fits")
    path.write_bytes(raw)
    for source in (path, str(path), raw, bytearray(raw)):
        got = read_skymap(source)
        _same(got, sky3d)
    assert got.meta["name"] == "S3D"
    assert got.meta["DISTMEAN"] == 250.0


@pytest.mark.parametrize("nest", [True, False])
def test_flat_maps_in_either_ordering(sky3d, flat, nest):
    source = flat if nest else FlatMap(hp.reorder(flat.prob, n2r=True), 64, False)
    got = read_skymap(flat_fits_bytes(source, gzip=True))
    expected = flat.to_skymap()
    assert np.array_equal(got.uniq, expected.uniq)
    assert np.array_equal(got.probdensity, expected.probdensity)
    assert got.meta["flat_nside"] == 64
    assert got.has_distance is nest  # the RING copy was written without distance layers


def test_vector_column_layout_like_old_healpy_grb_maps():
    flat = gaussian_flat(200.0, -5.0, 1.0, nside=32)
    got = read_skymap(flat_fits_bytes(flat, column="PROBABILITY", vector_width=1024))
    # stored as float32, like the real GRB map
    expected = Skymap.from_flat(flat.prob.astype(np.float32), nest=True)
    assert np.array_equal(got.uniq, expected.uniq)
    assert np.array_equal(got.probdensity, expected.probdensity)


def test_explicit_partial_sky_map():
    nside = 16
    pix = np.arange(100, 140)
    prob = np.full(pix.size, 1.0 / pix.size)
    table = fits.BinTableHDU.from_columns(
        [fits.Column("PIXEL", "J", array=pix), fits.Column("PROB", "D", array=prob)]
    )
    table.header.update(PIXTYPE="HEALPIX", ORDERING="NESTED", NSIDE=nside, INDXSCHM="EXPLICIT")
    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(buf)
    sky = read_skymap(buf.getvalue())
    assert sky.total_prob == pytest.approx(1.0)
    ra, dec = hp.pix2ang(nside, pix, nest=True, lonlat=True)
    assert np.all(sky.probdensity[sky.lookup(ra, dec)] > 0)
    assert sky.area(1.0) == pytest.approx(pix.size * hp.nside2pixarea(nside, degrees=True))


def _localization_json(sky: Skymap, **extra) -> dict:
    data = {
        "localization_name": "bayestar.fits.gz",
        "dateobs": "2019-04-25T08:18:05",
        "id": 7,
        "uniq": sky.uniq.tolist(),
        "probdensity": sky.probdensity.tolist(),
        "distmu": None if sky.distmu is None else [None if np.isinf(v) else v for v in sky.distmu],
        "distsigma": None if sky.distsigma is None else sky.distsigma.tolist(),
        "distnorm": None if sky.distnorm is None else sky.distnorm.tolist(),
        **extra,
    }
    return {"status": "success", "data": data, "version": "1.4.0"}


def test_skyportal_localization_json_in_every_form(sky3d):
    body = _localization_json(sky3d)
    for source in (body, body["data"], json.dumps(body), json.dumps(body).encode()):
        got = read_skymap(source)
        _same(got, sky3d)
    assert got.meta["name"] == "bayestar.fits.gz"
    assert got.meta["dateobs"] == "2019-04-25T08:18:05"


def test_json_null_distmu_means_no_distance_information(sky3d):
    mu = sky3d.distmu.copy()
    mu[:3] = np.inf
    norm = sky3d.distnorm.copy()
    norm[:3] = 0.0
    sky = Skymap(sky3d.uniq, sky3d.probdensity, mu, sky3d.distsigma, norm)
    got = read_skymap(_localization_json(sky))
    assert np.all(np.isinf(got.distmu[:3]))


def test_json_refusals(sky3d):
    with pytest.raises(SkymapError, match="missing uniq"):
        read_skymap({"data": {"probdensity": [1.0]}})
    with pytest.raises(SkymapError, match="answered with an error"):
        read_skymap({"status": "error", "message": "Localization not found"})
    body = _localization_json(sky3d)
    body["data"]["distsigma"] = body["data"]["distsigma"][:-1]
    with pytest.raises(SkymapError, match="differ in length"):
        read_skymap(body)
    with pytest.raises(SkymapError, match="malformed JSON"):
        read_skymap(b'{"data": ')


# ---------------------------------------------------------------- normalisation


def test_truncated_map_needs_a_decision(sky3d):
    body = _localization_json(sky3d)
    for key in ("uniq", "probdensity", "distmu", "distsigma", "distnorm"):
        body["data"][key] = body["data"][key][:200]
    with pytest.raises(SkymapError, match=r"sum to .*normalize=True.*check=False"):
        read_skymap(body)
    rescaled = read_skymap(body, normalize=True)
    assert rescaled.total_prob == pytest.approx(1.0, abs=1e-12)
    assert rescaled.meta["normalized_from"] < 1
    as_is = read_skymap(body, check=False)
    assert as_is.total_prob < 1
    # a position outside the kept pixels is in nobody's credible region
    assert not as_is.covers_sky


# ---------------------------------------------------------------- URLs


class _Files(BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}

    def do_GET(self):
        body = self.files.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(body if body is not None else b"not here")

    def log_message(self, *args):
        pass


@pytest.fixture
def http_files():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Files.files
    server.shutdown()
    server.server_close()
    _Files.files.clear()


def test_urls_fits_and_json(http_files, sky3d):
    base, files = http_files
    files["/map.fits.gz"] = multiorder_fits_bytes(sky3d, gzip=True)
    files["/loc"] = json.dumps(_localization_json(sky3d)).encode()
    _same(read_skymap(f"{base}/map.fits.gz"), sky3d)
    _same(read_skymap(f"{base}/loc", timeout=5), sky3d)
    with pytest.raises(SkymapError, match="HTTP 404"):
        read_skymap(f"{base}/missing.fits")


def test_unreachable_url_is_a_connection_failure():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    port = server.server_address[1]
    server.server_close()  # nothing listens there now
    with pytest.raises(ConnectionFailed, match="could not download"):
        read_skymap(f"http://127.0.0.1:{port}/map.fits?token=0123456789abcdef", timeout=2)


# ---------------------------------------------------------------- refusals


def _flat_table(columns: dict[str, np.ndarray], **header) -> bytes:
    table = fits.BinTableHDU.from_columns(
        [fits.Column(name, "D", array=values) for name, values in columns.items()]
    )
    table.header.update(PIXTYPE="HEALPIX", **header)
    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(buf)
    return buf.getvalue()


def test_refusals_name_the_file_and_the_problem(tmp_path, flat):
    prob = flat.prob
    cases = {
        "nofits.fits": (b"hello world" * 100, "not a FITS file"),
        "noprob.fits": (
            _flat_table({"T": prob}, ORDERING="NESTED", NSIDE=64),
            "no PROB or PROBABILITY",
        ),
        "order.fits": (_flat_table({"PROB": prob}, ORDERING="SPIRAL", NSIDE=64), "ORDERING header"),
        "noorder.fits": (_flat_table({"PROB": prob}, NSIDE=64), "ORDERING header"),
        "nside.fits": (_flat_table({"PROB": prob}, ORDERING="NESTED", NSIDE=32), "NSIDE=32"),
        "short.fits": (_flat_table({"PROB": prob[:1000]}, ORDERING="NESTED"), "not a full-sky"),
        "neg.fits": (_flat_table({"PROB": np.r_[-prob[:1], prob[1:]]}, ORDERING="NESTED"), ">= 0"),
        "nan.fits": (_flat_table({"PROB": np.r_[np.nan, prob[1:]]}, ORDERING="NESTED"), ">= 0"),
        "sum.fits": (_flat_table({"PROB": 2 * prob}, ORDERING="NESTED"), "sum to 2"),
        "dist.fits": (
            _flat_table({"PROB": prob, "DISTMU": prob}, ORDERING="NESTED"),
            "missing DISTNORM, DISTSIGMA",
        ),
        "npow2.fits": (
            _flat_table({"PROB": np.full(1200, 1 / 1200)}, ORDERING="RING"),
            "power of two",
        ),
    }
    for name, (raw, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(raw)
        with pytest.raises(SkymapError, match=message) as info:
            read_skymap(path)
        assert name in str(info.value)


def test_truncated_files_are_refused(tmp_path, sky3d):
    raw = multiorder_fits_bytes(sky3d)
    cut = tmp_path / "cut.fits"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(SkymapError, match="truncated"):
        read_skymap(cut)
    gz = gzip.compress(raw)
    cut_gz = tmp_path / "cut.fits.gz"
    cut_gz.write_bytes(gz[: len(gz) // 2])
    with pytest.raises(SkymapError, match=r"cut\.fits\.gz.*truncated or corrupt"):
        read_skymap(cut_gz)


def test_other_refusals(tmp_path):
    with pytest.raises(SkymapError, match="cannot read skymap file"):
        read_skymap(tmp_path / "absent.fits")
    with pytest.raises(SkymapError, match="from a int"):
        read_skymap(42)
    only_primary = io.BytesIO()
    fits.PrimaryHDU().writeto(only_primary)
    with pytest.raises(SkymapError, match="no binary table"):
        read_skymap(only_primary.getvalue())
    table = fits.BinTableHDU.from_columns([fits.Column("UNIQ", "K", array=np.arange(4, 16))])
    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(buf)
    with pytest.raises(SkymapError, match="no PROBDENSITY"):
        read_skymap(buf.getvalue())


def test_probdensity_in_per_square_degree_is_converted(sky3d):
    table = fits.BinTableHDU.from_columns(
        [
            fits.Column("UNIQ", "K", array=sky3d.uniq),
            fits.Column(
                "PROBDENSITY", "D", unit="deg-2", array=sky3d.probdensity / (180 / np.pi) ** 2
            ),
        ]
    )
    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(buf)
    got = read_skymap(buf.getvalue())
    assert np.allclose(got.probdensity, sky3d.probdensity, rtol=1e-14)
