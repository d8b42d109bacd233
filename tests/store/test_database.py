"""The desk database: WAL, private file, versioned schemas per component, no lost update across processes."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from binance_spot_mcp.store import STORE_FILE_NAME, SchemaError, Store, open_store

MIGRATIONS = [
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);\n"
    "INSERT INTO counters VALUES ('hits', 0);",
    "ALTER TABLE counters ADD COLUMN note TEXT DEFAULT '';",
]


def test_the_database_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    store = open_store(tmp_path / "state")
    try:
        assert store.path == (tmp_path / "state" / STORE_FILE_NAME).resolve()
        assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
        with store.read() as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert open_store(tmp_path / "state") is store  # one connection per file in a process
    finally:
        store.close()
    assert open_store(tmp_path / "state") is not store
    open_store(tmp_path / "state").close()


def test_migrations_run_in_order_once_and_per_component(tmp_path: Path) -> None:
    store = Store(tmp_path / STORE_FILE_NAME)
    assert store.version("demo") == 0
    assert store.migrate("demo", MIGRATIONS[:1]) == 1
    assert store.migrate("demo", MIGRATIONS) == 2
    assert store.migrate("demo", MIGRATIONS) == 2  # a second run changes nothing
    assert store.version("demo") == 2 and store.version("other") == 0
    with store.read() as db:
        assert tuple(db.execute("SELECT value, note FROM counters").fetchone()) == (0, "")
    store.close()


def test_a_schema_written_by_a_newer_release_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / STORE_FILE_NAME)
    store.migrate("demo", MIGRATIONS)
    with pytest.raises(SchemaError, match="newer than this release knows"):
        store.migrate("demo", MIGRATIONS[:1])
    store.close()


def test_a_failed_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    store = Store(tmp_path / STORE_FILE_NAME)
    store.migrate("demo", MIGRATIONS)
    with pytest.raises(sqlite3.IntegrityError):
        with store.write() as db:
            db.execute("UPDATE counters SET value = 5")
            db.execute("INSERT INTO counters (name, value) VALUES ('hits', 1)")
    with store.read() as db:
        assert db.execute("SELECT value FROM counters").fetchone()[0] == 0
    store.close()


_WORKER = """
import sys
from pathlib import Path
sys.path.insert(0, {src!r})
from binance_spot_mcp.store import Store
store = Store(Path({path!r}))
for _ in range({n}):
    with store.write() as db:
        value = db.execute("SELECT value FROM counters WHERE name = 'hits'").fetchone()[0]
        db.execute("UPDATE counters SET value = ? WHERE name = 'hits'", (value + 1,))
store.close()
"""


def test_two_processes_never_lose_an_update(tmp_path: Path) -> None:
    path = tmp_path / STORE_FILE_NAME
    store = Store(path)
    store.migrate("demo", MIGRATIONS)
    src = str(Path(__file__).resolve().parents[2] / "server")
    code = _WORKER.format(src=src, path=str(path), n=200)
    workers = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2)]
    for worker in workers:
        assert worker.wait(timeout=60) == 0
    with store.read() as db:
        assert db.execute("SELECT value FROM counters").fetchone()[0] == 400
    store.close()
    assert not os.path.exists(str(path) + "-journal")


@pytest.mark.anyio
async def test_work_that_would_wait_for_a_lock_runs_in_a_worker_thread_and_then_completes(tmp_path: Path) -> None:
    import anyio

    store = Store(tmp_path / STORE_FILE_NAME)
    store.migrate("demo", MIGRATIONS)
    other = sqlite3.connect(tmp_path / STORE_FILE_NAME, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    threads: list[bool] = []

    def bump() -> int:
        import threading

        threads.append(threading.current_thread() is threading.main_thread())
        with store.write() as db:
            value = db.execute("SELECT value FROM counters").fetchone()[0] + 1
            db.execute("UPDATE counters SET value = ?", (value,))
        return value

    async with anyio.create_task_group() as group:
        results: list[int] = []

        async def run() -> None:
            results.append(await store.run(bump))

        group.start_soon(run)
        await anyio.sleep(0)  # the inline try has met the lock and handed the work to a thread
        other.execute("COMMIT")
    assert results == [1]  # applied exactly once, after the other writer let go
    assert threads == [True, False]  # tried here first, then ran in a worker thread
    assert await store.run(bump) == 2 and threads[-1] is True  # uncontended: runs right here
    other.close()
    store.close()
