"""One SQLite database shared by the components that keep state across restarts and processes.

Every write runs in ``Store.write()``: ``BEGIN IMMEDIATE`` takes the database's write lock before
the first read, so a read-check-write (a paper balance, a sync checkpoint) cannot interleave with
another process's. Reads run in ``Store.read()`` on the same connection (WAL: readers never block
the writer). Blocking calls are meant to run in a worker thread (``Store.run``), never on the event
loop: waiting for another process's lock must not stall the server.

Schemas are versioned per component in the ``schema_versions`` table; a component passes its
ordered list of migrations (SQL scripts) to ``migrate`` and gets the version it is at.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import anyio.to_thread

STORE_FILE_NAME = "desk.sqlite3"
BUSY_TIMEOUT_MS = 10_000
T = TypeVar("T")


class SchemaError(Exception):
    """The database holds a schema this release cannot use (written by a newer release)."""


class Store:
    """One connection to the desk database, serialised by a lock (one transaction at a time)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            # Private: balances and trade history are nobody else's business.
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA foreign_keys = ON")
        with self.write() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
        with _open_lock:
            if _open.get(self.path) is self:
                del _open[self.path]

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A transaction holding the write lock from its first statement; rolled back on error."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for reads (a deferred transaction)."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("COMMIT")

    async def run(self, fn: Callable[[], T]) -> T:
        """Run database work (one or more ``write()``/``read()`` transactions) without blocking the
        event loop on a lock: when the connection is free and SQLite's lock can be had at once, the
        work runs right here (a few hundred microseconds); when anything would wait (another
        transaction of this process, another process's write), it runs in a worker thread instead.
        ``fn`` must be safe to run again after a ``database is locked`` (its transactions roll back)."""
        if self._lock.acquire(blocking=False):
            try:
                self._db.execute("PRAGMA busy_timeout = 0")
                try:
                    return fn()
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) and "busy" not in str(exc):
                        raise
                finally:
                    self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            finally:
                self._lock.release()
        return await anyio.to_thread.run_sync(fn)

    def version(self, component: str) -> int:
        with self.read() as db:
            row = db.execute("SELECT version FROM schema_versions WHERE component = ?", (component,)).fetchone()
        return int(row[0]) if row else 0

    def migrate(self, component: str, migrations: Sequence[str]) -> int:
        """Bring ``component``'s tables to ``len(migrations)``, one migration per transaction."""
        with self.write() as db:
            row = db.execute("SELECT version FROM schema_versions WHERE component = ?", (component,)).fetchone()
            current = int(row[0]) if row else 0
            if current > len(migrations):
                raise SchemaError(
                    f"{self.path} holds {component} schema version {current}, newer than this release "
                    f"knows ({len(migrations)}); upgrade binance-spot-mcp or use another state directory"
                )
        for version in range(current + 1, len(migrations) + 1):
            with self.write() as db:
                row = db.execute("SELECT version FROM schema_versions WHERE component = ?", (component,)).fetchone()
                if row and int(row[0]) >= version:  # another process migrated it meanwhile
                    continue
                for statement in _statements(migrations[version - 1]):
                    db.execute(statement)
                db.execute(
                    "INSERT INTO schema_versions (component, version) VALUES (?, ?) "
                    "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                    (component, version),
                )
        return max(current, len(migrations))


def _statements(script: str) -> list[str]:
    """A migration script split into statements (``executescript`` would commit our transaction)."""
    parts: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                parts.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        parts.append(buffer.strip())
    return parts


_open: dict[Path, Store] = {}
_open_lock = threading.Lock()


def open_store(state_dir: Path) -> Store:
    """The desk database of a state directory (one ``Store`` per file in this process)."""
    path = (state_dir / STORE_FILE_NAME).resolve()
    with _open_lock:
        store = _open.get(path)
        if store is None:
            store = _open[path] = Store(path)
        return store
