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
