"""Transactions: all-or-nothing, the outbox with its local effect, checkpoints, vetting,
and threads of one process sharing the cache."""

from __future__ import annotations

import json
import threading
import time

import pytest

from workbench.cache import Cache
from workbench.errors import CacheError, OutboxError
from workbench.redact import register_secret


@pytest.fixture
def cache(tmp_path):
    return Cache(tmp_path / "c.duckdb", lock_timeout=10)


def classification(cid, obj_id="A", name="Ia"):
    return {
        "id": cid,
        "obj_id": obj_id,
        "classification": name,
        "taxonomy_id": 1,
        "probability": 0.9,
        "created_at": "2026-01-01T00:00:00",
    }


def test_enqueue_and_local_effect_commit_together_or_not_at_all(cache):
    with cache.write() as tx:
        action = tx.enqueue("classification", {"obj_id": "A", "classification": "Ia"})
        tx.upsert_classifications([classification(-action)])
    assert cache.outbox()["id"].tolist() == [action]
    assert cache.counts()["classifications"] == 1

    class Boom(Exception):
        pass

    with pytest.raises(Boom), cache.write() as tx:
        tx.enqueue("classification", {"obj_id": "B", "classification": "II"})
        tx.upsert_classifications([classification(-99, "B")])
        raise Boom
    assert len(cache.outbox()) == 1 and cache.counts()["classifications"] == 1
    with pytest.raises(CacheError, match="rolled back"), cache.write() as tx:
        tx.enqueue("reject", {"obj_id": "C"})
        tx.execute(
            "INSERT INTO vetting (id, obj_id, decision, decided_at) VALUES (1, 'C', "
            "'save', now()), (1, 'C', 'save', now())"
        )  # duplicate key
    assert len(cache.outbox()) == 1 and cache.counts()["vetting"] == 0


def test_update_action_statuses_and_redacted_errors(cache):
    token = "3f2b8c1e-5d6a-4b7c-9e8f-0a1b2c3d4e5f"
    register_secret(token)
    with cache.write() as tx:
        first = tx.enqueue("save", {"obj_id": "A", "group_ids": [3]})
        second = tx.enqueue("reject", {"obj_id": "B"})
    with cache.write() as tx:
        tx.update_action(first, status="sending", attempts=1)
        tx.update_action(first, status="sent", remote_id=42, last_error=None)
        tx.update_action(
            second,
            status="failed",
            attempts=2,
            last_error=f"500 from http://h/api?token={token} with {token}",
        )
    box = cache.outbox().set_index("id")
    assert box.loc[first, "status"] == "sent" and box.loc[first, "remote_id"] == "42"
    assert box.loc[first, "attempts"] == 1
    assert token not in box.loc[second, "last_error"] and "***" in box.loc[second, "last_error"]
    assert cache.outbox("failed").index.size == 1
    assert json.loads(box.loc[second, "payload"]) == {"obj_id": "B"}
    for kwargs, match in (({"status": "done"}, "not one of"), ({"attempts": -1}, "attempts")):
        with pytest.raises(OutboxError, match=match), cache.write() as tx:
            tx.update_action(first, **kwargs)
    with pytest.raises(OutboxError, match="no outbox action #999"), cache.write() as tx:
        tx.update_action(999, status="sent")


def test_enqueue_refuses_bad_payloads_and_tokens(cache):
    token = "0a1b2c3d-1111-2222-3333-444455556666"
    register_secret(token)
    for kind, payload, match in (
        ("", {}, "kind"),
        ("save", ["A"], "JSON object"),
        ("save", {"when": object()}, "not JSON"),
        ("comment", {"text": f"my token is {token}"}, "API token"),
        ("save", {"note": token.upper().lower()}, "API token"),
    ):
        with pytest.raises(OutboxError, match=match), cache.write() as tx:
            tx.enqueue(kind, payload)
    assert cache.counts()["outbox"] == 0
    with cache.write() as tx:  # prose about tokens is not a token
        tx.enqueue("comment", {"text": "token distribution looks Bearer-shaped, authorization ok"})
    assert cache.counts()["outbox"] == 1


def test_sync_state_checkpoints(cache):
    assert cache.sync_state("sources") is None
    with cache.write() as tx:
        tx.set_sync_state(
            "sources",
            "g3",
            watermark="2026-01-02T03:04:05+01:00",
            last_page=1,
            status="running",
            pass_id="p1",
            counts={"new": 3},
            query_id="q-1",
        )
        assert tx.get_sync_state("sources", "g3")["last_page"] == 1
    with cache.write() as tx:
        tx.set_sync_state("sources", "g3", last_page=2, error="boom")
    state = cache.sync_state("sources", "g3")
    assert state["last_page"] == 2 and state["pass_id"] == "p1" and state["query_id"] == "q-1"
    assert str(state["watermark"]) == "2026-01-02 02:04:05" and state["counts"] == {"new": 3}
    assert state["error"] == "boom" and state["updated_at"] is not None
    assert cache.sync_state("sources") is None  # scopes are separate
    with pytest.raises(CacheError, match="last_page must be an integer"), cache.write() as tx:
        tx.set_sync_state("sources", "g3", last_page="two")
    with pytest.raises(CacheError, match="ISO-8601"), cache.write() as tx:
        tx.set_sync_state("sources", "g3", watermark="soon")


def test_record_vetting(cache):
    with cache.write() as tx:
        first = tx.record_vetting("A", "save", group_ids=[3, 4], action_id=7)
        second = tx.record_vetting("B", "skip", note="blurry")
    rows = cache.sql("SELECT * FROM vetting ORDER BY id")
    assert rows["id"].tolist() == [first, second]
    assert json.loads(rows["group_ids"][0]) == [3, 4] and rows["note"][1] == "blurry"
    with pytest.raises(CacheError, match="not one of"), cache.write() as tx:
        tx.record_vetting("A", "maybe")


def test_a_transaction_cannot_be_used_after_its_block(cache):
    with cache.write() as tx:
        pass
    with pytest.raises(CacheError, match="has ended"):
        tx.upsert_sources([{"id": "A"}])


def test_nested_writes_and_reads_inside_a_write(cache):
    with cache.write() as tx:
        tx.upsert_sources([{"id": "A", "ra": 1.0, "dec": 2.0}])
        assert tx.sql("SELECT count(*) n FROM objs")["n"][0] == 1  # its own changes
        assert cache.counts()["objs"] == 0  # other readers see only committed data
        with pytest.raises(CacheError, match="read-only"):  # reads cannot write, even here
            cache.sql("DELETE FROM objs")
        with pytest.raises(CacheError, match="already open in this thread"), cache.write():
            pass
    with pytest.raises(CacheError, match="while this thread is reading"), cache.read() as r:
        r.sql("SELECT 1")
        with cache.write():
            pass
    assert cache.counts()["objs"] == 1


def test_read_only_cache_and_sql_errors(cache, tmp_path):
    with cache.write() as tx:
        tx.upsert_sources([{"id": "A", "ra": 1.0, "dec": 2.0}])
    ro = Cache(cache.path, read_only=True)
    with pytest.raises(CacheError, match="read_only"), ro.write():
        pass
    with pytest.raises(CacheError, match="Reads are read-only"):
        ro.sql("DELETE FROM objs")
    with pytest.raises(CacheError, match="no_such_table"):
        ro.sql("SELECT * FROM no_such_table")
    assert ro.arrow("SELECT id FROM objs").column("id").to_pylist() == ["A"]
    assert ro.sql("SELECT id FROM objs WHERE id = $x", {"x": "A"})["id"].tolist() == ["A"]
    ro.close()
    with pytest.raises(CacheError, match="closed"):
        ro.sql("SELECT 1")


def test_threads_read_while_another_thread_writes(cache):
    stop = threading.Event()
    errors: list[BaseException] = []
    reads = []

    def writer():
        try:
            i = 0
            while not stop.is_set():
                with cache.write() as tx:
                    tx.upsert_sources([{"id": f"S{i}", "ra": 1.0, "dec": 2.0}])
                    time.sleep(0.002)
                i += 1
        except BaseException as exc:
            errors.append(exc)

    def reader():
        try:
            while not stop.is_set():
                reads.append(cache.counts()["objs"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader) for _ in range(3)
    ]
    for t in threads:
        t.start()
    time.sleep(1.5)
    stop.set()
    for t in threads:
        t.join(10)
    assert not errors, errors
    assert len(reads) > 10 and cache.counts()["objs"] >= max(reads) > 0


def test_the_write_ahead_log_is_folded_in_once_it_grows(cache):
    wal = cache.path.with_name(cache.path.name + ".wal")

    def write(first, n):
        points = [
            {
                "id": first + k,
                "obj_id": "A",
                "mjd": 59000.0 + k,
                "mag": 18.0,
                "magerr": 0.1,
                "filter": "ztfg",
                "magsys": "ab",
            }
            for k in range(n)
        ]
        with cache.write() as tx:
            tx.upsert_photometry([], points)
        return wal.stat().st_size if wal.exists() else 0

    small = [write(i * 10, 5) for i in range(5)]
    assert small == sorted(small) and small[-1] > 0  # small writes leave their log...
    assert write(1000, 2000) < small[-1]  # ... which a large one folds into the file
    assert Cache(cache.path, read_only=True).counts()["photometry"] == 2025


def test_a_held_connections_log_is_folded_in_after_the_block_while_reads_go_on(cache):
    """A sync's large log is checkpointed on a thread of its own once the hold ends: the
    caller goes on at once (reads and writes meanwhile use the open connection), and
    ``close()`` waits for it, after which the file is free and whole for another program."""
    import duckdb

    wal = cache.path.with_name(cache.path.name + ".wal")
    points = [
        {"id": k, "obj_id": "A", "mjd": 59000.0 + k, "mag": 18.0, "magerr": 0.1,
         "filter": "ztfg", "magsys": "ab"}
        for k in range(20_000)
    ]  # fmt: skip
    with cache.keep_open():
        with cache.write() as tx:
            tx.upsert_photometry([], points)
        assert wal.stat().st_size > 1_000_000  # held: not folded in after the commit
    # at once, while the log may still be being folded in
    assert cache.counts()["photometry"] == 20_000
    with cache.write() as tx:
        tx.upsert_photometry([], [{**points[0], "id": 99_999}])
    cache.close()
    assert not wal.exists() or wal.stat().st_size < 1_000_000
    con = duckdb.connect(str(cache.path))  # not open in this process any more
    assert con.execute("SELECT count(*) FROM photometry").fetchone()[0] == 20_001
    con.close()


def test_lock_messages_for_the_command_line_name_no_python_option():
    from workbench.cache.locking import LockHolder, locked_message

    holder = LockHolder(pid=42, program="/usr/bin/python3", reading=True)
    python = locked_message("/c.duckdb", holder, 1.0, writing=True)
    shell = locked_message("/c.duckdb", holder, 1.0, writing=True, for_cli=True)
    assert "lock_timeout" in python and "lock_timeout" not in shell
    assert "PID 42" in shell and "retry" in shell
