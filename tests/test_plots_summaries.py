"""Summary plots and the ways figures leave the notebook (HTML files, widgets)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bokeh.models import DataTable, HoverTool

from workbench.errors import WorkbenchError
from workbench.plots import (
    as_widget,
    classification_counts,
    export_html,
    galaxy_ranking,
    lightcurve_plot,
    score_histogram,
    vetting_timeline,
)


def test_score_histogram_counts() -> None:
    scores = pd.DataFrame({"score": [0.1, 0.15, 0.5, 0.95, 1.0, np.nan, None]})
    fig, sources = score_histogram(scores, bins=4)
    data = sources["histogram"].data
    assert list(data["count"]) == [2, 1, 0, 2]  # edges 0.1, 0.325, 0.55, 0.775, 1.0
    assert data["left"][0] == 0.1 and data["right"][-1] == 1.0
    assert "(2 without a score)" in fig.title.text
    quad = next(r for r in fig.renderers)
    assert quad.glyph.top == "count"
    one = score_histogram(pd.DataFrame({"score": [0.7, 0.7]}), bins=3)[1]["histogram"].data
    assert sum(one["count"]) == 2  # all-equal scores still make a histogram
    empty_fig, _ = score_histogram(pd.DataFrame({"score": [np.nan]}))
    assert any(getattr(a, "text", "") == "no score values" for a in empty_fig.center)


def test_vetting_timeline_stacks_per_day() -> None:
    decisions = pd.DataFrame(
        {
            "decided_at": ["2024-05-01T01:00", "2024-05-01T23:59", "2024-05-02T00:01",
                           "2024-05-02T10:00", "2024-05-03T12:00", "2024-05-03T13:00"],
            "decision": ["save", "reject", "skip", "saved", "reject", "flag"],
        }
    )  # fmt: skip
    fig, sources = vetting_timeline(decisions)
    data = sources["days"].data
    days = [str(d)[:10] for d in data["day"]]
    assert days == ["2024-05-01", "2024-05-02", "2024-05-03"]
    assert list(data["saved"]) == [1, 1, 0] and list(data["rejected"]) == [1, 0, 1]
    assert list(data["skipped"]) == [0, 1, 0] and list(data["flag"]) == [0, 0, 1]
    stacked = [r.name for r in fig.renderers]
    assert stacked == ["saved", "rejected", "skipped", "flag"]
    colors = {r.name: r.glyph.fill_color for r in fig.renderers}
    assert colors["saved"] == "#2ca02c" and colors["rejected"] == "#d62728"
    assert fig.legend[0] in fig.right


def test_vetting_timeline_edge_cases() -> None:
    empty = pd.DataFrame({"decided_at": pd.Series([], dtype="datetime64[ns]"), "decision": []})
    fig, _sources = vetting_timeline(empty)
    assert any(getattr(a, "text", "") == "no vetting decisions yet" for a in fig.center)
    with pytest.raises(WorkbenchError, match="no valid decided_at"):
        vetting_timeline(pd.DataFrame({"decided_at": ["yesterday"], "decision": ["save"]}))
    with pytest.raises(WorkbenchError, match="lacks the column"):
        vetting_timeline(pd.DataFrame({"when": [1]}))


def test_classification_counts_sorted() -> None:
    classes = pd.DataFrame({"classification": ["Ia", "II", "Ia", "AGN", "Ia", "II", None]})
    fig, sources = classification_counts(classes)
    data = sources["counts"].data
    # the categorical axis draws its first factor at the bottom: most frequent ends on top
    assert list(data["classification"]) == ["AGN", "II", "Ia"]
    assert list(data["count"]) == [1, 2, 3]
    assert list(fig.y_range.factors) == ["AGN", "II", "Ia"]
    top = classification_counts(classes, top=1)[1]["counts"].data
    assert list(top["classification"]) == ["Ia"]
    with pytest.raises(WorkbenchError, match="top must be"):
        classification_counts(classes, top=0)


def _crossmatched() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": ["NGC 4993", "ESO 1", "PGC 2", "UGC 3"],
            "ra": [197.45, 197.0, 198.0, 196.0],
            "dec": [-23.38, -23.0, -24.0, -22.0],
            "distmpc": [40.0, 42.0, 38.0, 80.0],
            "probdensity": [10.0, 20.0, 5.0, 1.0],
            "probdensity_vol": [3e-4, 1e-4, np.nan, 2e-4],
            "credible_level": [0.1, 0.05, 0.3, 0.8],
        }
    )


def test_galaxy_ranking_bars() -> None:
    fig, sources = galaxy_ranking(_crossmatched(), top=3)
    data = sources["galaxies"].data
    assert list(data["name"]) == ["NGC 4993", "UGC 3", "ESO 1"]  # by probdensity_vol
    assert list(data["rank"]) == [1, 2, 3]
    assert list(fig.y_range.factors) == ["ESO 1", "UGC 3", "NGC 4993"]  # best on top
    hover = next(t for t in fig.tools if isinstance(t, HoverTool))
    assert {"rank", "galaxy", "distmpc"} <= {k for k, _ in hover.tooltips}
    by_2d = galaxy_ranking(_crossmatched(), score="probdensity")[1]["galaxies"].data
    assert list(by_2d["name"][:2]) == ["ESO 1", "NGC 4993"]


def test_galaxy_ranking_table() -> None:
    table, sources = galaxy_ranking(_crossmatched(), as_table=True)
    assert isinstance(table, DataTable) and table.source is sources["galaxies"]
    assert [c.field for c in table.columns][:3] == ["rank", "name", "score"]
    assert "distmpc" in [c.field for c in table.columns]
    with pytest.raises(WorkbenchError, match="probdensity_vol or probdensity"):
        galaxy_ranking(_crossmatched().drop(columns=["probdensity", "probdensity_vol"]))
    with pytest.raises(WorkbenchError, match="lacks the column"):
        galaxy_ranking(_crossmatched(), score="mass")


def test_export_html_is_standalone(tmp_path: Path) -> None:
    pair = lightcurve_plot(pd.DataFrame({"mjd": [1.0, 2.0], "filter": ["ztfg"] * 2,
                                         "mag": [19.0, 18.5], "magerr": [0.1, 0.1]}))  # fmt: skip
    out = export_html(pair, tmp_path / "lc.html", title="My light curve")
    html = out.read_text()
    assert "<title>My light curve</title>" in html
    assert "cdn.bokeh.org" not in html  # the network is closed: everything inline
    assert "Bokeh" in html and len(html) > 500_000  # BokehJS itself is inside
    assert '"det:ztfg"' in html
    with pytest.raises(WorkbenchError, match="does not exist"):
        export_html(pair[0], tmp_path / "missing" / "x.html")
    with pytest.raises(WorkbenchError, match="Bokeh figure"):
        export_html("not a figure", tmp_path / "y.html")


def test_as_widget() -> None:
    from jupyter_bokeh import BokehModel

    fig, sources = score_histogram(pd.DataFrame({"score": [0.1, 0.9]}))
    widget = as_widget(fig)
    assert isinstance(widget, BokehModel)
    assert isinstance(as_widget((fig, sources)), BokehModel)
