"""The annotations table: driven by setting its widgets' values, read back from its HTML."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from widgets.annotations_table import AnnotationsTable, annotation_rows, format_value


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "origin": ["braai", "ps1", "<script>x</script>"],
            "data": [
                {"score": 0.987654, "drb": 0.5, "flag": True},
                json.dumps({"r": 19.23456, "g": 20.1, "nested": {"dist": 3.14159}}),
                {"note": "<img src=x onerror=alert(1)>"},
            ],
            "author_name": ["scanner", "bot", "mallory"],
            "created_at": pd.to_datetime(
                ["2026-01-02 03:04", "2026-01-05 00:00", "2026-01-06 00:00"]
            ),
        }
    )


def _keys(markup: str) -> list[str]:
    return re.findall(r"<tr class='wb-annotation'><td[^>]*>(.*?)</td>", markup)


def _origins(markup: str) -> list[str]:
    return re.findall(r"<tr class='wb-annotation-origin'><th[^>]*>(.*?)<span", markup)


def test_grouped_by_origin_one_row_per_value_formatted_and_escaped() -> None:
    table = AnnotationsTable()
    assert "no annotation" in table.table.value
    table.show(_frame())
    markup = table.table.value
    assert _origins(markup) == ["&lt;script&gt;x&lt;/script&gt;", "braai", "ps1"]
    assert sorted(_keys(markup)) == ["drb", "flag", "g", "nested.dist", "note", "r", "score"]
    assert ">0.9877<" in markup and ">19.23<" in markup and ">3.142<" in markup  # 4 digits
    assert ">yes<" in markup  # a boolean
    assert "<script>" not in markup and "<img" not in markup  # everything escaped
    assert "&lt;img src=x onerror=alert(1)&gt;" in markup
    assert "scanner" in markup and "2026-01-02 03:04" in markup  # who and when, per origin
    assert "7 values" in table.count.value


def test_sort_by_key_and_value_and_descending() -> None:
    table = AnnotationsTable()
    table.show(_frame())
    table.sort.value = "key"
    assert _keys(table.table.value) == ["note", "drb", "flag", "score", "g", "nested.dist", "r"]
    table.descending.value = True
    assert _keys(table.table.value) == ["note", "score", "flag", "drb", "r", "nested.dist", "g"]
    table.sort.value = "value"  # numbers numerically (descending here), within each origin
    assert _keys(table.table.value)[1:4] == ["score", "drb", "flag"]
    assert _keys(table.table.value)[4:] == ["g", "r", "nested.dist"]
    table.descending.value = False
    assert _keys(table.table.value)[4:] == ["nested.dist", "r", "g"]
    table.sort.value = "origin"
    table.descending.value = True
    assert _origins(table.table.value)[0] == "ps1"


def test_search_filters_keys_values_and_origins() -> None:
    table = AnnotationsTable()
    table.show(_frame())
    table.search.value = "SCORE"  # case-insensitive, in keys
    assert _keys(table.table.value) == ["score"] and "1 of 7" in table.count.value
    table.search.value = "19.23"  # in formatted values
    assert _keys(table.table.value) == ["r"]
    table.search.value = "ps1"  # in origins
    assert sorted(_keys(table.table.value)) == ["g", "nested.dist", "r"]
    table.search.value = "<nothing>"
    assert "no annotation matches &lt;nothing&gt;" in table.table.value
    table.show(_frame().iloc[:1])  # the search stays while candidates change
    assert table.search.value == "<nothing>" and "0 of 3" in table.count.value
    table.search.value = ""
    table.show(None)
    assert "no annotation" in table.table.value


def test_values_are_formatted() -> None:
    assert format_value(1234567.0) == "1.235e+06"
    assert format_value(np.float32(0.123456)) == "0.1235"
    assert format_value(np.nan) == "" and format_value(None) == ""
    assert format_value(False) == "no" and format_value(7) == "7"
    assert format_value([1.23456, "a"]) == "1.235, a"
    rows = annotation_rows(pd.DataFrame({"origin": [None], "data": ["not json"]}))
    assert [(r.origin, r.key, r.text) for r in rows] == [("?", "value", "not json")]


def test_real_cached_annotations(make_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from workbench.facade import Workbench

    server = make_server(sources=12, candidates=6, seed=3)
    wb = Workbench.open(server.url, server.token, tmp_path / "c.duckdb", rate_limit=None)
    wb.sync(["sources"])
    frames = [wb.annotations(obj_id) for obj_id in wb.sources()["id"]]
    frame = next((f for f in frames if not f.empty), None)
    assert frame is not None, "the seeded server should annotate some sources"
    table = AnnotationsTable()
    table.show(frame)
    assert len(_keys(table.table.value)) == len(annotation_rows(frame)) > 0
    assert set(_origins(table.table.value)) == {str(o) for o in frame["origin"]}
