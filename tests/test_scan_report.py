"""The scan report: what this session saved, rejected, classified and commented (and undid),
by whom and when, as a DataFrame, CSV and a standalone HTML page."""

from __future__ import annotations

import base64
import io

import pandas as pd
from vetting_helpers import a_group

from widgets import VettingPanel
from widgets.scan_report import REPORT_COLUMNS, ScanJournal


def test_report_lists_the_sessions_actions_with_csv_and_html(online) -> None:  # type: ignore[no-untyped-def]
    _server, wb = online
    group = a_group(wb)
    panel = VettingPanel(wb, group_ids=[group], poll_seconds=None, background=False)
    assert panel.report().empty and list(panel.report().columns) == list(REPORT_COLUMNS)
    a, b = panel.state.queue[:2]
    panel.handle_key("s")
    panel.handle_key("r")
    panel.handle_key("n")  # a skip is not in the report
    panel.handle_key("u")  # undo the skip of c
    panel.handle_key("u")  # undo the reject of b: b is back on screen
    assert panel.state.current == b
    panel.comment("a <b>bold</b> note")
    classifier = panel.toggle_classifier()
    name = classifier.allowed_classes()[-1]
    classifier.klass.value = name
    classifier.post_button.click()

    report = panel.report()
    me = wb.profile()["username"]
    assert list(report["action"]) == ["save", "reject", "undo reject", "comment", "classify"]
    assert list(report["obj_id"]) == [a, b, b, b, b]
    assert set(report["by"]) == {me}
    assert report["at"].notna().all()
    assert list(report["undone"]) == [False, True, False, False, False]
    assert set(report["status"]) == {"sent"}
    assert report.loc[report["action"] == "classify", "detail"].iloc[0] == name
    assert report.loc[0, "detail"] == panel._group_names([group]), "group names, not ids"

    again = pd.read_csv(io.StringIO(panel.report_csv()))
    assert list(again["action"]) == list(report["action"])
    page = panel.report_html()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert "a &lt;b&gt;bold&lt;/b&gt; note" in page, "text from the user is escaped"
    # the tab shows the table and the two downloads
    assert a in panel.tab_html["Scan report"].value
    links = panel.report_links.value
    assert "data:text/csv" in links and "data:text/html" in links
    csv_b64 = links.split("data:text/csv;charset=utf-8;base64,")[1].split("'")[0]
    assert base64.b64decode(csv_b64).decode().splitlines()[0].startswith("at,obj_id,action")


def test_journal_statuses_follow_the_outbox() -> None:
    journal = ScanJournal(by="alice")
    journal.add("save", "ZTF1", "Sitewide", 7)
    journal.add("comment", "ZTF1", "hi", None)
    outbox = pd.DataFrame({"id": [7], "status": ["pending"]})
    frame = journal.frame(outbox)
    assert list(frame["status"]) == ["pending", "local"]
    assert list(frame["by"]) == ["alice", "alice"]
    journal.mark_undone(7, "ZTF1", "save")
    assert bool(journal.frame()["undone"].iloc[0])
