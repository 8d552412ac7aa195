"""Paginators and the ordered concurrent page walk, alone and over real HTTP."""

from __future__ import annotations

import threading

import pytest
from test_client_httpd import Reply, ScriptedServer, Seen, err, ok

from workbench.client import (
    GalaxyPaginator,
    Page,
    PageNumberPaginator,
    SinglePagePaginator,
    SkyPortalClient,
)
from workbench.client.pagination import walk_pages
from workbench.errors import BadRequest, InvalidResponse, ServerError

TOKEN = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"  # made up for the tests, not a real token


class Dataset:
    """A server-side list read by pages; it can shrink or grow between requests."""

    def __init__(self, n: int, echo_size: int | None = None) -> None:
        self.rows = [{"id": i} for i in range(n)]
        self.fetched: list[int] = []
        self.echo_size = echo_size
        self.lock = threading.Lock()

    def fetch(self, number: int, size: int) -> Page:
        with self.lock:
            self.fetched.append(number)
            size = min(size, self.echo_size or size)
            rows = self.rows[(number - 1) * size : number * size]
            payload = {"numPerPage": size, "pageNumber": number}
            return Page(number, rows, len(self.rows), payload)


PAGER = PageNumberPaginator("sources")


@pytest.mark.parametrize("concurrency", [1, 4])
def test_pages_come_in_order_and_stop_at_total(concurrency):
    data = Dataset(1234)
    pages = list(walk_pages(data.fetch, PAGER, page_size=100, concurrency=concurrency))
    assert [p.number for p in pages] == list(range(1, 14))
    assert [r["id"] for p in pages for r in p.records] == list(range(1234))
    assert sorted(data.fetched) == list(range(1, 14))  # never past the last page


def test_exact_multiple_of_the_page_size_does_not_ask_for_an_empty_page():
    data = Dataset(300)
    pages = list(walk_pages(data.fetch, PAGER, page_size=100, concurrency=3))
    assert len(pages) == 3 and sorted(data.fetched) == [1, 2, 3]


def test_a_short_page_ends_the_walk_and_drops_pages_fetched_ahead():
    data = Dataset(1000)

    def shrinking(number: int, size: int) -> Page:
        if number == 3:
            del data.rows[500:]  # rows removed while reading
        if number > 5:
            raise ServerError("past the end")  # the real server errors past the last page
        return data.fetch(number, size)

    pages = list(walk_pages(shrinking, PAGER, page_size=100, concurrency=4))
    assert [p.number for p in pages] == [1, 2, 3, 4, 5]  # page 5 said totalMatches=500
    assert [r["id"] for p in pages for r in p.records] == list(range(500))


def test_an_empty_page_ends_the_walk():
    data = Dataset(1000)

    def emptied(number: int, size: int) -> Page:
        if number == 3:
            data.rows.clear()
        return data.fetch(number, size) if number != 3 else Page(3, [], None, {})

    pages = list(walk_pages(emptied, PAGER, page_size=100, concurrency=3))
    assert [p.number for p in pages] == [1, 2, 3] and pages[-1].records == []


def test_an_error_surfaces_in_page_order_after_the_earlier_pages():
    data = Dataset(1000)

    def failing(number: int, size: int) -> Page:
        if number == 4:
            raise ServerError("boom", status=500)
        return data.fetch(number, size)

    seen = []
    with pytest.raises(ServerError):
        for page in walk_pages(failing, PAGER, page_size=100, concurrency=4):
            seen.append(page.number)
    assert seen == [1, 2, 3]


def test_a_server_that_clamps_the_page_size_is_followed():
    data = Dataset(1200, echo_size=500)  # asked 1000, the server says 500
    pages = list(
        walk_pages(
            data.fetch,
            PageNumberPaginator("sources", max_page_size=5000),
            page_size=1000,
            concurrency=2,
        )
    )
    assert [len(p.records) for p in pages] == [500, 500, 200]


def test_page_size_above_the_cap_is_clamped_to_500():
    sizes = []

    def fetch(number: int, size: int) -> Page:
        sizes.append(size)
        return Page(number, [{}] * (size if number < 2 else 3), 2 * size + 3, {})

    list(walk_pages(fetch, PAGER, page_size=100_000))
    assert set(sizes) == {500}


def test_without_a_total_pages_are_read_one_by_one_until_a_short_page():
    data = Dataset(250)

    def no_total(number: int, size: int) -> Page:
        page = data.fetch(number, size)
        return Page(number, page.records, None, {})

    pages = list(walk_pages(no_total, PAGER, page_size=100, concurrency=4))
    assert [len(p.records) for p in pages] == [100, 100, 50]


def test_rows_added_during_the_read_are_followed_past_the_planned_end():
    data = Dataset(300)

    def growing(number: int, size: int) -> Page:
        if number == 2:
            data.rows.extend({"id": i} for i in range(300, 420))
        return data.fetch(number, size)

    pages = list(walk_pages(growing, PAGER, page_size=100, concurrency=3))
    assert [p.number for p in pages] == [1, 2, 3, 4, 5]
    assert sum(len(p.records) for p in pages) == 420


def test_resume_from_a_later_page():
    data = Dataset(1000)
    pages = list(walk_pages(data.fetch, PAGER, page_size=100, start_page=7, concurrency=2))
    assert [p.number for p in pages] == [7, 8, 9, 10]
    assert pages[0].records[0]["id"] == 600


def test_bad_walk_arguments_are_refused():
    with pytest.raises(BadRequest, match="must be >= 1"):
        list(walk_pages(Dataset(1).fetch, PAGER, page_size=0))


def test_paginators_parse_the_shapes_skyportal_answers():
    auto = PageNumberPaginator()
    page = auto.parse(
        {"sources": [{"id": 1}], "totalMatches": 7, "pageNumber": 1, "numPerPage": 1}, 1
    )
    assert (
        page.records == [{"id": 1}]
        and page.total == 7
        and page.payload == {"totalMatches": 7, "pageNumber": 1, "numPerPage": 1}
    )
    cands = auto.parse({"candidates": [], "totalMatches": 0, "queryID": "q"}, 1)
    assert cands.payload["queryID"] == "q"
    assert auto.parse([{"a": 1}], 1).records == [{"a": 1}]  # bare list: one page
    with pytest.raises(InvalidResponse, match="pass list_key"):
        auto.parse({"user_groups": [], "all_groups": []}, 1)
    with pytest.raises(InvalidResponse, match="no 'events' list"):
        PageNumberPaginator("events").parse({"sources": []}, 1)
    with pytest.raises(InvalidResponse, match="not an integer"):
        auto.parse({"sources": [], "totalMatches": "many"}, 1)
    assert GalaxyPaginator().params(3, 1000) == {"pageNumber": 3, "numPerPage": 1000}
    single = SinglePagePaginator()
    assert single.parse([1, 2], 1).total == 2 and not single.paginated


# -- over HTTP --------------------------------------------------------------------------


def listing(key: str, n: int, page_param: str = "pageNumber", cap: int = 500):
    """A route answering pages of ``n`` records; 400 past the last page like SkyPortal."""

    def answer(seen: Seen) -> Reply:
        number = int(seen.query.get(page_param, ["1"])[0])
        size = min(int(seen.query.get("numPerPage", ["100"])[0]), cap)
        if (number - 1) * size >= n and number > 1:
            return err(400, "Page number out of range.")
        rows = [{"id": i} for i in range((number - 1) * size, min(number * size, n))]
        return ok({key: rows, "totalMatches": n, page_param: number, "numPerPage": size})

    return answer


def test_iter_pages_over_http_concurrently_in_order():
    with ScriptedServer() as srv:
        srv.route("GET", "/api/sources", listing("sources", 2345))
        client = SkyPortalClient(srv.url, token=TOKEN, rate_limit=None)
        pages = list(
            client.iter_pages("/api/sources", {"group_ids": [1, 2]}, page_size=200, concurrency=4)
        )
        assert [p.number for p in pages] == list(range(1, 13))
        assert [r["id"] for p in pages for r in p.records] == list(range(2345))
        assert srv.count("GET", "/api/sources") == 12
        assert all(s.query["group_ids"] == ["1,2"] for s in srv.seen)
        records = list(client.iter_records("/api/sources", page_size=500, concurrency=2))
        assert len(records) == 2345


def galaxy_listing(n: int):
    """SkyPortal 1.4.0's galaxy catalog: reads ``pageNumber`` (``page`` is ignored),
    echoes it as ``data.page``, and slices past the end to an empty list."""

    def answer(seen: Seen) -> Reply:
        number = int(seen.query.get("pageNumber", ["1"])[0])
        size = min(int(seen.query.get("numPerPage", ["1000"])[0]), 10_000)
        rows = [{"id": i} for i in range((number - 1) * size, min(number * size, n))]
        return ok({"galaxies": rows, "totalMatches": n, "page": number, "numPerPage": size})

    return answer


def test_galaxy_catalog_pages_by_page_number_like_skyportal_1_4():
    with ScriptedServer() as srv:
        srv.route("GET", "/api/galaxy_catalog", galaxy_listing(92))
        client = SkyPortalClient(srv.url, token=TOKEN, rate_limit=None)
        frame = client.list_galaxies("CLU_mini", page_size=40, concurrency=2)
        assert len(frame) == 92 and set(frame["catalog_name"]) == {"CLU_mini"}
        assert sorted(frame["id"]) == list(range(92))
        assert sorted(int(s.query["pageNumber"][0]) for s in srv.seen) == [1, 2, 3]
        assert all("page" not in s.query for s in srv.seen)


def test_bare_list_endpoints_are_one_page():
    with ScriptedServer() as srv:
        srv.script("GET", "/api/taxonomy", ok([{"id": 1}, {"id": 2}]))
        client = SkyPortalClient(srv.url, token=TOKEN, rate_limit=None)
        pages = list(client.iter_pages("/api/taxonomy", list_key=None))
        assert len(pages) == 1 and pages[0].total == 2
        assert "pageNumber" not in srv.seen[0].query


def test_candidate_walk_can_reuse_the_servers_cached_query():
    def answer(seen: Seen) -> Reply:
        number = int(seen.query["pageNumber"][0])
        rows = [{"id": f"c{number}-{i}"} for i in range(10 if number < 3 else 5)]
        return ok(
            {
                "candidates": rows,
                "totalMatches": 25,
                "queryID": "q-123",
                "pageNumber": number,
                "numPerPage": 10,
            }
        )

    with ScriptedServer() as srv:
        srv.route("GET", "/api/candidates", answer)
        client = SkyPortalClient(srv.url, token=TOKEN, rate_limit=None)
        pager = PageNumberPaginator("candidates", reuse_query_id=True)
        pages = list(
            client.iter_pages("/api/candidates", page_size=10, concurrency=2, paginator=pager)
        )
        assert sum(len(p.records) for p in pages) == 25
        queries = sorted((s.query for s in srv.seen), key=lambda q: q["pageNumber"])
        assert "queryID" not in queries[0]
        assert all(q["queryID"] == ["q-123"] and q["useCache"] == ["true"] for q in queries[1:])
        # the same paginator, walked again, starts afresh
        list(client.iter_pages("/api/candidates", page_size=10, paginator=pager))
        assert "queryID" not in srv.seen[3].query


def test_a_long_bare_list_is_one_page_not_an_endless_walk():
    with ScriptedServer() as srv:
        srv.script("GET", "/api/spectra", ok([{"id": i} for i in range(700)]))
        client = SkyPortalClient(srv.url, token=TOKEN, rate_limit=None)
        pages = list(client.iter_pages("/api/spectra", page_size=500))
        assert len(pages) == 1 and len(pages[0].records) == 700 and pages[0].complete
        assert srv.count("GET", "/api/spectra") == 1


def test_a_server_ignoring_the_page_number_is_caught():
    with ScriptedServer() as srv:
        srv.script(
            "GET",
            "/api/sources/x/spectra",
            ok({"obj_id": "x", "spectra": [{"id": i} for i in range(10)]}),
        )
        client = SkyPortalClient(srv.url, token=TOKEN, rate_limit=None)
        with pytest.raises(InvalidResponse, match="does not page by number"):
            list(client.iter_pages("/api/sources/x/spectra", page_size=10))
        assert srv.count("GET", "/api/sources/x/spectra") == 2  # noticed on the first repeat


def test_classifications_come_each_once_though_the_pages_have_no_order(make_server):
    # A live SkyPortal 1.4.0 pages /api/classification with no ORDER BY: 1,203 rows read
    # 500 a page showed 53 twice and 53 never. The local server's quirk does the same.
    srv = make_server(sources=300, candidates=10, seed=5)
    assert srv.behaviour.quirks["unordered_classifications"]
    client = SkyPortalClient(srv.url, token=srv.token, rate_limit=None)
    total = client.get("/api/classification", {"numPerPage": 1})["totalMatches"]
    assert total > 3 * 40  # several pages
    rows = client.list_classifications(page_size=40)
    assert len(rows) == len({r["id"] for r in rows}) == total
