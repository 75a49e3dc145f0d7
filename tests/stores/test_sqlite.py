"""The SQLite stores beyond the common contract: the file they make (and the
one an earlier release made), purging through the index, touch writing one
column, conditional writes in one statement, failures as StoreError, several
processes on one file, and an event loop that never waits for the disk."""

from __future__ import annotations

import asyncio
import json
import math
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest

from sessions import SessionRecord, StoreError
from sessions.records import record_to_json
from sessions.stores.sqlite import AsyncSQLiteStore, SQLiteStore

from .sqlite_support import closing_async

START = datetime(2030, 1, 1, tzinfo=timezone.utc)


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = START.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def record_for(
    seconds: float, data: dict[str, Any] | None = None, *, since: datetime = START
) -> SessionRecord:
    """A record expiring ``seconds`` after ``since``."""
    return SessionRecord(
        data={"user": "ada"} if data is None else data,
        expires=since + timedelta(seconds=seconds),
        max_age=None,
        created=since,
    )


def rows(path: Path, table: str = "sessions") -> dict[str, tuple[str, int]]:
    """Every row of the table, expired or not, read past the store."""
    with sqlite3.connect(path) as connection:
        found = connection.execute(f"SELECT id, record, expires FROM {table}")
        result = {session_id: (text, expires) for session_id, text, expires in found}
    connection.close()
    return result


def stored_versions(path: Path, table: str = "sessions") -> dict[str, int]:
    """The ``version`` column of every row, read past the store."""
    connection = sqlite3.connect(path)
    try:
        found = connection.execute(f"SELECT id, version FROM {table}")
        return dict(found.fetchall())
    finally:
        connection.close()


def table_columns(path: Path) -> dict[str, tuple[str, int, int, str | None]]:
    """name -> (type, primary key, not null, default) of the sessions table."""
    connection = sqlite3.connect(path)
    try:
        return {
            name: (kind, primary, not_null, default)
            for _, name, kind, not_null, default, primary in connection.execute(
                "PRAGMA table_info(sessions)"
            )
        }
    finally:
        connection.close()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "sessions.sqlite3"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(path: Path, clock: FakeClock) -> Iterator[SQLiteStore]:
    with SQLiteStore(path, clock=clock, purge_interval=60) as store:
        yield store


# -- the file ------------------------------------------------------------------


def test_a_new_file_gets_the_table_its_index_and_write_ahead_logging(
    store: SQLiteStore, path: Path
) -> None:
    columns = table_columns(path)
    connection = sqlite3.connect(path)
    try:
        indexes = connection.execute("PRAGMA index_list(sessions)").fetchall()
        indexed = {
            index_name: [
                column
                for _, _, column in connection.execute(
                    f"PRAGMA index_info({index_name})"
                )
            ]
            for _, index_name, *_ in indexes
        }
        (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
    finally:
        connection.close()

    assert columns == {
        "id": ("TEXT", 1, 1, None),
        "record": ("TEXT", 0, 1, None),
        "expires": ("INTEGER", 0, 1, None),
        "version": ("INTEGER", 0, 1, "0"),
    }
    assert ["expires"] in indexed.values()
    assert mode == "wal"


# The table as the release before conditional writes created it, and a row
# it wrote: its JSON has no version either.
OLD_TABLE = (
    "CREATE TABLE sessions (id TEXT PRIMARY KEY NOT NULL, "
    "record TEXT NOT NULL, expires INTEGER NOT NULL)"
)


def make_old_file(path: Path, rows: dict[str, SessionRecord]) -> None:
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(OLD_TABLE)
        connection.execute('CREATE INDEX "sessions_expires" ON sessions (expires)')
        for session_id, record in rows.items():
            document = json.loads(record_to_json(record))
            del document["version"]
            expires = record.expires - datetime(1970, 1, 1, tzinfo=timezone.utc)
            connection.execute(
                "INSERT INTO sessions VALUES (?, ?, ?)",
                (
                    session_id,
                    json.dumps(document),
                    expires // timedelta(microseconds=1),
                ),
            )
    connection.close()


def test_a_file_from_before_versions_gets_the_column_and_keeps_its_sessions(
    path: Path, clock: FakeClock
) -> None:
    old = record_for(60, {"cart": [1]})
    make_old_file(path, {"old": old})

    with SQLiteStore(path, clock=clock) as store:
        assert store.get("old") == old  # at version 0
        assert not store.update("old", attrs.evolve(old, version=2), 1)
        changed = attrs.evolve(old, data={"cart": [1, 2]}, version=1)
        assert store.update("old", changed, 0)
        assert store.get("old") == changed
    with SQLiteStore(path, clock=clock) as again:  # a second start changes nothing
        assert again.get("old") == changed

    assert table_columns(path)["version"] == ("INTEGER", 0, 1, "0")
    assert stored_versions(path) == {"old": 1}


def test_stores_opening_an_old_file_at_once_add_the_column_once(path: Path) -> None:
    make_old_file(path, {})
    openers = 4
    barrier = threading.Barrier(openers)

    def open_store() -> None:
        barrier.wait(timeout=30)
        SQLiteStore(path, busy_timeout=30).close()

    with ThreadPoolExecutor(max_workers=openers) as pool:
        for done in [pool.submit(open_store) for _ in range(openers)]:
            done.result()

    assert list(table_columns(path)) == ["id", "record", "expires", "version"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX file permissions")
def test_a_new_file_is_private_to_its_owner_and_an_old_one_keeps_its_mode(
    tmp_path: Path,
) -> None:
    new, old = tmp_path / "new.sqlite3", tmp_path / "old.sqlite3"
    old.touch()
    old.chmod(0o640)

    for path in (new, old):
        SQLiteStore(path).close()

    assert new.stat().st_mode & 0o777 == 0o600
    assert old.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize(
    "statement",
    [
        "get",
        "update",
        "touch",
        "destroy_live",
        "destroy_version",
        "purge",
        "length",
        "ids",
    ],
)
def test_no_statement_scans_the_whole_table(store: SQLiteStore, statement: str) -> None:
    sql: str = getattr(store._statements, statement)
    connection = sqlite3.connect(store.path)
    try:
        plan = connection.execute(
            f"EXPLAIN QUERY PLAN {sql}", [0] * sql.count("?")
        ).fetchall()
    finally:
        connection.close()

    details = [detail for *_, detail in plan]
    assert details, f"no plan for {sql}"
    assert not [detail for detail in details if detail.startswith("SCAN")], details


def test_two_tables_in_one_file_keep_their_sessions_apart(
    path: Path, clock: FakeClock
) -> None:
    with (
        SQLiteStore(path, table="site_a", clock=clock) as first,
        SQLiteStore(path, table="site_b", clock=clock) as second,
    ):
        first.set("same-id", record_for(60, {"site": "a"}))
        second.set("same-id", record_for(60, {"site": "b"}))

        for store, site in ((first, "a"), (second, "b")):
            loaded = store.get("same-id")
            assert loaded is not None
            assert loaded.data == {"site": site}
        assert set(rows(path, "site_a")) == set(rows(path, "site_b")) == {"same-id"}


# -- expiry ------------------------------------------------------------------------


def test_expired_rows_are_purged_by_writes_at_most_once_per_interval(
    store: SQLiteStore, path: Path, clock: FakeClock
) -> None:
    store.set("first", record_for(10))  # the first write purges (nothing yet)
    clock.advance(20)
    now = START + timedelta(seconds=20)

    store.set("second", record_for(100, since=now))
    assert set(rows(path)) == {"first", "second"}, "purged before the interval"
    assert store.get("first") is None, "an expired row was read"

    clock.advance(50)  # 70 seconds after the first purge
    store.set("third", record_for(100, since=now))
    assert set(rows(path)) == {"second", "third"}


def test_purge_deletes_the_expired_rows_at_once(
    store: SQLiteStore, path: Path, clock: FakeClock
) -> None:
    store.set("short", record_for(10))
    store.set("long", record_for(100))
    clock.advance(30)

    assert store.purge() == 1
    assert set(rows(path)) == {"long"}


def test_touch_writes_the_expiry_column_and_nothing_else(
    store: SQLiteStore, path: Path
) -> None:
    store.set("id", attrs.evolve(record_for(60, {"cart": [1, 2]}), version=3))
    text_before, expires_before = rows(path)["id"]
    later = START + timedelta(minutes=30)

    assert store.touch("id", later)

    text_after, expires_after = rows(path)["id"]
    assert text_after == text_before
    assert expires_after == expires_before + 29 * 60 * 1_000_000
    assert stored_versions(path) == {"id": 3}
    loaded = store.get("id")
    assert loaded is not None
    assert (loaded.expires, loaded.data, loaded.version) == (later, {"cart": [1, 2]}, 3)
    assert loaded == store.all()["id"]


def test_update_is_decided_by_the_columns(path: Path, clock: FakeClock) -> None:
    with SQLiteStore(path, clock=clock, purge_interval=3600) as store:
        store.set("id", attrs.evolve(record_for(60), version=1))
        # Another writer moved the version on in the column alone: the JSON
        # still says 1, and the column is the one that counts.
        connection = sqlite3.connect(path)
        with connection:
            connection.execute("UPDATE sessions SET version = 2 WHERE id = 'id'")
        connection.close()
        loaded = store.get("id")
        assert loaded is not None
        assert loaded.version == 2

        assert not store.update("id", attrs.evolve(loaded, version=2), 1)
        assert store.update("id", attrs.evolve(loaded, data={"n": 3}, version=3), 2)
        assert stored_versions(path) == {"id": 3}
        dead_row = rows(path)["id"]

        clock.advance(61)  # the row is still in the file, but dead
        later = record_for(3600, since=START + timedelta(seconds=61))
        assert not store.update("id", attrs.evolve(later, version=4), 3)
        assert not store.touch("id", START + timedelta(hours=1))
        assert stored_versions(path) == {"id": 3}
        assert rows(path)["id"] == dead_row
        assert store.get("id") is None


def test_touch_does_not_bring_back_an_expired_row(
    store: SQLiteStore, clock: FakeClock
) -> None:
    store.set("id", record_for(10))
    clock.advance(20)

    store.touch("id", START + timedelta(hours=1))

    assert store.get("id") is None
    assert store.ids() == []


def test_expiry_is_kept_to_the_microsecond(store: SQLiteStore) -> None:
    expires = START + timedelta(hours=1, microseconds=123_457)
    store.set("id", record_for(0, since=expires))
    touched = expires + timedelta(microseconds=1)
    loaded = store.get("id")
    assert loaded is not None
    assert loaded.expires == expires

    store.touch("id", touched)

    loaded = store.get("id")
    assert loaded is not None
    assert loaded.expires == touched


# -- failures ----------------------------------------------------------------------


def test_a_locked_database_is_a_store_error_caused_by_sqlite(path: Path) -> None:
    with SQLiteStore(path, busy_timeout=0.05) as store:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # hold the write lock
            with pytest.raises(StoreError, match="database is locked") as failure:
                store.set("id", record_for(3600, since=datetime.now(timezone.utc)))
            other.execute("ROLLBACK")
        finally:
            other.close()

        assert isinstance(failure.value.__cause__, sqlite3.OperationalError)
        store.set("id", record_for(3600, since=datetime.now(timezone.utc)))
        assert store.get("id") is not None, "the store did not recover"


def test_a_record_it_cannot_read_is_a_store_error(
    store: SQLiteStore, path: Path
) -> None:
    far = START + timedelta(days=1) - datetime(1970, 1, 1, tzinfo=timezone.utc)
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(
            "INSERT INTO sessions VALUES ('bad', '{\"v\": 99}', ?, 1)",
            (far // timedelta(microseconds=1),),
        )
    connection.close()

    with pytest.raises(StoreError, match="cannot read") as failure:
        store.get("bad")
    assert isinstance(failure.value.__cause__, ValueError)
    with pytest.raises(StoreError):
        store.all()


@pytest.mark.parametrize("kind", ["missing directory", "directory", "not a database"])
def test_a_file_it_cannot_use_is_a_store_error(tmp_path: Path, kind: str) -> None:
    if kind == "missing directory":
        path = tmp_path / "missing" / "sessions.sqlite3"
    elif kind == "directory":
        path = tmp_path
    else:
        path = tmp_path / "notes.txt"
        path.write_bytes(b"these are not the pages of a database\n" * 200)

    with pytest.raises(StoreError, match="could not open") as failure:
        SQLiteStore(path)
    assert isinstance(failure.value.__cause__, (sqlite3.Error, OSError))


def test_a_closed_store_refuses_work(path: Path) -> None:
    store = SQLiteStore(path)
    store.close()
    store.close()

    with pytest.raises(StoreError, match="closed"):
        store.get("id")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"path": ":memory:"}, "MemoryStore"),
        ({"path": ""}, "MemoryStore"),
        ({"table": "two words"}, "table"),
        ({"table": "1st"}, "table"),
        ({"table": 'x"; DROP TABLE y; --'}, "table"),
        ({"busy_timeout": -1}, "busy_timeout"),
        ({"busy_timeout": math.nan}, "busy_timeout"),
        ({"purge_interval": -0.5}, "purge_interval"),
    ],
)
def test_options_are_checked_at_construction(
    path: Path, options: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"path": path, **options}
    with pytest.raises(ValueError, match=message):
        SQLiteStore(**arguments)


# -- several processes ------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timedelta, timezone
    from sessions import SessionRecord
    from sessions.stores.sqlite import SQLiteStore

    path, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    now = datetime.now(timezone.utc)
    with SQLiteStore(path, busy_timeout=30) as store:
        for number in range(count):
            record = SessionRecord(
                data={"writer": name, "number": number},
                expires=now + timedelta(hours=1),
                max_age=None,
                created=now,
            )
            store.set(f"{name}-{number}", record)
            store.touch(f"{name}-{number}", now + timedelta(hours=2))
    """
)


COUNTER = textwrap.dedent(
    """
    import sys
    import attrs
    from sessions.stores.sqlite import SQLiteStore

    path, increments = sys.argv[1], int(sys.argv[2])
    with SQLiteStore(path, busy_timeout=30) as store:
        for _ in range(increments):
            while True:
                current = store.get("counter")
                following = attrs.evolve(
                    current,
                    data={"count": current.data["count"] + 1},
                    version=current.version + 1,
                )
                if store.update("counter", following, current.version):
                    break
    """
)


def test_processes_counting_through_update_lose_no_increment(path: Path) -> None:
    processes_count, increments = 3, 40
    start = attrs.evolve(
        record_for(3600, {"count": 0}, since=datetime.now(timezone.utc)), version=1
    )
    with SQLiteStore(path) as store:
        store.set("counter", start)

    processes = [
        subprocess.Popen(
            [sys.executable, "-c", COUNTER, str(path), str(increments)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(processes_count)
    ]
    outcomes = [process.communicate(timeout=120) for process in processes]

    for process, (_, errors) in zip(processes, outcomes, strict=True):
        assert process.returncode == 0, errors.decode()
    with SQLiteStore(path) as store:
        final = store.get("counter")
    assert final is not None
    assert final.data == {"count": processes_count * increments}
    assert final.version == 1 + processes_count * increments


def test_processes_writing_one_new_file_at_once_all_land(path: Path) -> None:
    writers, count = 4, 50
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), f"p{writer}", str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for writer in range(writers)
    ]
    outcomes = [process.communicate(timeout=120) for process in processes]

    for process, (_, errors) in zip(processes, outcomes, strict=True):
        assert process.returncode == 0, errors.decode()
    with SQLiteStore(path) as store:
        everything = store.all()
    assert len(everything) == writers * count
    for session_id, record in everything.items():
        writer, number = session_id.split("-")
        assert record.data == {"writer": writer, "number": int(number)}


# -- the asynchronous store ---------------------------------------------------------


def test_the_event_loop_runs_on_while_a_write_waits_for_the_lock(path: Path) -> None:
    record = record_for(3600, since=datetime.now(timezone.utc))

    async def scenario(store: AsyncSQLiteStore, other: sqlite3.Connection) -> None:
        other.execute("BEGIN IMMEDIATE")  # the write must wait for this
        write = asyncio.create_task(store.set("id", record))
        for _ in range(5):
            await asyncio.sleep(0.01)  # the loop is free to run this
        assert not write.done(), "the write did not wait for the lock"
        other.execute("ROLLBACK")
        await write
        assert await store.get("id") is not None

    with closing_async(AsyncSQLiteStore(path, busy_timeout=30)) as store:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            asyncio.run(scenario(store, other))
        finally:
            other.close()


def test_a_closed_async_store_refuses_work(path: Path) -> None:
    async def scenario() -> None:
        async with AsyncSQLiteStore(path) as store:
            await store.set("id", record_for(3600, since=datetime.now(timezone.utc)))
            assert await store.length() == 1
        await store.close()
        with pytest.raises(StoreError, match="closed"):
            await store.get("id")

    asyncio.run(scenario())


def test_the_async_store_reports_failures_as_store_errors(path: Path) -> None:
    async def scenario(store: AsyncSQLiteStore, other: sqlite3.Connection) -> None:
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreError, match="locked") as failure:
                await store.destroy("id")
        finally:
            other.execute("ROLLBACK")
        assert isinstance(failure.value.__cause__, sqlite3.OperationalError)

    with closing_async(AsyncSQLiteStore(path, busy_timeout=0.05)) as store:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            asyncio.run(scenario(store, other))
        finally:
            other.close()
