"""Summary plots for vetting and crossmatch: score histogram, decisions per day,
classification counts, and the ranked galaxies of a crossmatch (bar chart or table)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from bokeh.models import (
    ColumnDataSource,
    DataTable,
    HoverTool,
    NumberFormatter,
    NumeralTickFormatter,
    ScientificFormatter,
    TableColumn,
)

from ..errors import WorkbenchError
from ._base import PlotSources, empty_note, new_figure, require_columns

__all__ = ["classification_counts", "galaxy_ranking", "score_histogram", "vetting_timeline"]

# A vetting decision as the cache stores it ("save") or as people say it ("saved").
_DECISIONS = {"save": "saved", "saved": "saved", "reject": "rejected", "rejected": "rejected",
              "skip": "skipped", "skipped": "skipped"}  # fmt: skip
_DECISION_COLORS = {"saved": "#2ca02c", "rejected": "#d62728", "skipped": "#9e9e9e"}
_OTHER_COLORS = ("#1f77b4", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def score_histogram(
    candidates: pd.DataFrame,
    *,
    column: str = "score",
    bins: int = 20,
    title: str | None = None,
    width: int = 520,
    height: int = 320,
) -> tuple[Any, PlotSources]:
    """Histogram of candidate scores (``column``); candidates without a score are counted in
    the title, not drawn. Returns ``(figure, {'histogram': source})``."""
    df = require_columns(candidates, (column,), "candidates")
    if not isinstance(bins, int) or bins < 1:
        raise WorkbenchError(f"bins must be a positive integer, not {bins!r}")
    values = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    missing = values.size - finite.size
    note = f" ({missing} without a {column})" if missing else ""
    fig = new_figure(title=(title or f"Candidate {column}s") + note, width=width, height=height)
    fig.xaxis.axis_label = column
    fig.yaxis.axis_label = "candidates"
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(finite, bins=bins, range=(lo, hi))
    src = ColumnDataSource(
        {"left": edges[:-1], "right": edges[1:], "count": counts}, name="histogram"
    )
    sources = PlotSources()
    sources["histogram"] = src
    sources.full["values"] = pd.DataFrame({column: values})
    r = fig.quad(left="left", right="right", bottom=0, top="count", source=src,
                 fill_color="#4c72b0", line_color="white")  # fmt: skip
    fig.add_tools(HoverTool(renderers=[r], tooltips=[("range", "@left{0.000} – @right{0.000}"),
                                                     ("candidates", "@count")]))  # fmt: skip
    fig.y_range.start = 0
    if not finite.size:
        empty_note(fig, f"no {column} values")
    return fig, sources


def vetting_timeline(
    decisions: pd.DataFrame,
    *,
    time: str = "decided_at",
    decision: str = "decision",
    title: str | None = None,
    width: int = 640,
    height: int = 320,
) -> tuple[Any, PlotSources]:
    """Vetting decisions per UTC day, stacked (saved / rejected / skipped, then any other
    decision). ``time`` holds timestamps (naive = UTC). Returns ``(figure, {'days': source})``."""
    df = require_columns(decisions, (time, decision), "decisions")
    when = pd.to_datetime(df[time], errors="coerce", utc=True)
    if when.isna().any():
        i = int(np.flatnonzero(when.isna().to_numpy())[0])
        raise WorkbenchError(
            f"decisions row {df.index[i]!r} has no valid {time}: {df[time].iloc[i]!r}"
        )
    kinds = df[decision].astype(str).str.lower().map(lambda d: _DECISIONS.get(d, d))
    day = when.dt.tz_convert(None).dt.floor("D")
    table = pd.crosstab(day, kinds) if len(df) else pd.DataFrame()
    order = [k for k in ("saved", "rejected", "skipped") if k in table.columns]
    order += sorted(k for k in table.columns if k not in order)
    fig = new_figure(title=title or "Vetting decisions per day (UTC)", width=width, height=height,
                     x_axis_type="datetime")  # fmt: skip
    fig.yaxis.axis_label = "candidates"
    sources = PlotSources()
    data: dict[str, Any] = {
        "day": table.index.to_numpy() if len(table) else np.array([], "datetime64[ns]")
    }
    data.update({k: table[k].to_numpy() for k in order})
    src = sources["days"] = ColumnDataSource(data, name="days")
    sources.full["decisions"] = pd.DataFrame({"day": day, "decision": kinds})
    if not order:
        empty_note(fig, "no vetting decisions yet")
        return fig, sources
    colors = [
        _DECISION_COLORS.get(k, _OTHER_COLORS[i % len(_OTHER_COLORS)]) for i, k in enumerate(order)
    ]
    bars = fig.vbar_stack(order, x="day", width=pd.Timedelta(days=0.8).total_seconds() * 1000,
                          source=src, color=colors, legend_label=order)  # fmt: skip
    fig.add_tools(HoverTool(renderers=bars, tooltips=[("day", "@day{%F}"), ("decision", "$name"),
                                                      ("count", "@$name")],
                            formatters={"@day": "datetime"}))  # fmt: skip
    for bar, name in zip(bars, order, strict=True):
        bar.name = name
    fig.y_range.start = 0
    fig.y_range.range_padding = 0.1
    legend = fig.legend[0]
    legend.click_policy = "hide"
    fig.add_layout(legend, "right")  # outside the frame, never over the bars
    return fig, sources


def classification_counts(
    classifications: pd.DataFrame,
    *,
    column: str = "classification",
    top: int | None = None,
    title: str | None = None,
    width: int = 520,
    height: int | None = None,
) -> tuple[Any, PlotSources]:
    """Horizontal bars: how many classifications of each class, most frequent at the top
    (``top`` keeps the first N). Returns ``(figure, {'counts': source})``."""
    df = require_columns(classifications, (column,), "classifications")
    counts = df[column].dropna().astype(str).value_counts()
    counts = counts.sort_values(ascending=False, kind="stable")
    if top is not None:
        if top < 1:
            raise WorkbenchError(f"top must be at least 1, not {top}")
        counts = counts.head(top)
    names = list(counts.index[::-1])  # categorical y axes draw the first factor at the bottom
    fig = new_figure(title=title or "Classifications", width=width,
                     height=height or max(200, 40 + 24 * len(names)), y_range=names or ["(none)"])  # fmt: skip
    fig.xaxis.axis_label = "classifications"
    sources = PlotSources()
    src = sources["counts"] = ColumnDataSource(
        {"classification": names, "count": counts.to_numpy()[::-1]}, name="counts"
    )
    r = fig.hbar(y="classification", right="count", height=0.7, source=src, color="#4c72b0")
    fig.add_tools(
        HoverTool(renderers=[r], tooltips=[("class", "@classification"), ("count", "@count")])
    )
    fig.x_range.start = 0
    if not names:
        empty_note(fig, "no classifications")
    return fig, sources


def galaxy_ranking(
    galaxies: pd.DataFrame,
    *,
    score: str | None = None,
    top: int = 20,
    as_table: bool = False,
    title: str | None = None,
    width: int = 560,
) -> tuple[Any, PlotSources]:
    """The best galaxies of a crossmatch, ranked by ``score`` (default: ``probability``,
    the weighted probability per galaxy of :func:`workbench.crossmatch.rank_galaxies`, shown
    as a percentage with the cumulative probability; else ``probdensity_vol`` per Mpc³ when
    present, else ``probdensity`` per sr): a bar chart, or a ``DataTable`` with
    ``as_table=True``. Returns ``(figure_or_table, {'galaxies': source})``."""
    df = require_columns(galaxies, ("name",), "galaxies")
    if score is None:
        score = next((c for c in ("probability", "probdensity_vol", "probdensity") if c in df.columns
                      and pd.to_numeric(df[c], errors="coerce").notna().any()), None)  # fmt: skip
        if score is None:
            raise WorkbenchError(
                "galaxies need a probdensity_vol or probdensity column (crossmatch output) "
                "or an explicit score= column"
            )
    require_columns(df, (score,), "galaxies")
    if top < 1:
        raise WorkbenchError(f"top must be at least 1, not {top}")
    ranked = df.assign(_score=pd.to_numeric(df[score], errors="coerce")).dropna(subset=["_score"])
    ranked = ranked.sort_values("_score", ascending=False, kind="stable").head(top)
    data = {"name": ranked["name"].astype(str).to_numpy(), "score": ranked["_score"].to_numpy(),
            "rank": np.arange(1, len(ranked) + 1)}  # fmt: skip
    for col in ("distmpc", "credible_level", "credible_level_vol", "ra", "dec", "mstar",
                "cum_probability"):  # fmt: skip
        if col in ranked.columns:
            data[col] = pd.to_numeric(ranked[col], errors="coerce").to_numpy(dtype=float)
    sources = PlotSources()
    src = sources["galaxies"] = ColumnDataSource(data, name="galaxies")
    sources.full["ranked"] = ranked.drop(columns="_score")
    if as_table:
        return _galaxy_table(src, score, width), sources
    names = list(data["name"][::-1])
    fig = new_figure(title=title or f"Galaxies ranked by {score}", width=width,
                     height=max(200, 40 + 22 * len(names)), y_range=names or ["(none)"])  # fmt: skip
    fig.xaxis.axis_label = score
    r = fig.hbar(y="name", right="score", height=0.7, source=src, color="#55a868")
    percent = score == "probability"
    if percent:
        fig.xaxis.formatter = NumeralTickFormatter(format="0.0%")
    tips = [("rank", "@rank"), ("galaxy", "@name"),
            (score, "@score{0.00%}" if percent else "@score{0.000e}")]  # fmt: skip
    if "cum_probability" in data:
        tips.append(("cumulative", "@cum_probability{0.0%}"))
    tips += [(c, f"@{c}{{0.00}}") for c in ("distmpc", "credible_level") if c in data]
    fig.add_tools(HoverTool(renderers=[r], tooltips=tips))
    fig.x_range.start = 0
    if not names:
        empty_note(fig, "no galaxies")
    return fig, sources


def _galaxy_table(src: ColumnDataSource, score: str, width: int) -> DataTable:
    sci = ScientificFormatter(precision=3)
    fixed = NumberFormatter(format="0.000")
    pct = NumberFormatter(format="0.00%")
    columns = [TableColumn(field="rank", title="#", width=30), TableColumn(field="name", title="galaxy", width=220),
               TableColumn(field="score", title=score, formatter=pct if score == "probability" else sci,
                           width=100)]  # fmt: skip
    if "cum_probability" in src.data:
        columns.append(
            TableColumn(field="cum_probability", title="cumulative", formatter=pct, width=90)
        )
    titles = {"distmpc": "distance (Mpc)", "credible_level": "credible level", "ra": "RA (deg)",
              "dec": "Dec (deg)"}  # fmt: skip
    columns += [
        TableColumn(field=c, title=t, formatter=fixed, width=90)
        for c, t in titles.items()
        if c in src.data
    ]
    return DataTable(source=src, columns=columns, width=width, height=min(600, 30 + 25 * len(src.data["name"])),
                     index_position=None)  # fmt: skip
