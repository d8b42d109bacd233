"""The audit journal: one JSON line per state-changing request, written before it is sent.

For every request that may change state the server writes an ``intent`` line (flushed and
fsync'd) *before* the request leaves the machine, and an ``outcome`` line when the answer (or
the failure) is known. After a crash, an intent without an outcome is a request whose fate
must be looked up (invariant 4), never blindly repeated::

    {"ts": "2025-01-02T03:04:05.678Z", "id": "…", "phase": "intent", "tool": "place_order",
     "account": "main", "environment": "testnet", "method": "POST", "path": "/api/v3/order",
     "params": {"symbol": "BTCUSDT", ...}}
    {"ts": "...", "id": "…", "phase": "outcome", "ok": true, "status": 200, "summary": {...}}

Lines never hold keys or secrets: callers pass the request parameters before signing (no
``signature``; one is dropped if passed), and an optional ``Redactor`` runs over each line as a
second line of defence. The file is created 0600 in a directory created 0700, and opened through
``safe_files``: a planted symlink, a FIFO or another user's file is refused, never appended to.
The async ``intent``/``outcome`` run the fsync-ed writes in a worker thread. A thread lock
plus an exclusive ``flock`` keep lines from concurrent writers (threads or processes) whole;
a line torn by a crash is skipped by the reader and never glued to the next line.
"""

from __future__ import annotations

import fcntl
import json
import functools
import os
import secrets
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread

from binance_spot_mcp.errors import JournalError
from binance_spot_mcp.redact import Redactor
from binance_spot_mcp.safe_files import UnsafeFile, check_descriptor, open_private

INTENT, OUTCOME = "intent", "outcome"
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
DEFAULT_LATEST = 20
_DROPPED_PARAMS = frozenset({"signature"})
_READ_CHUNK = 64 * 1024


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Journal:
    """Append-only JSON-lines journal at ``path``. Thread-safe and process-safe."""

    def __init__(self, path: Path, *, redactor: Redactor | None = None) -> None:
        self.path = Path(path)
        self._redactor = redactor
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    def record_intent(
        self,
        *,
        tool: str,
        account: str,
        environment: str,
        method: str,
        path: str,
        params: Mapping[str, str],
    ) -> str:
        """Write (and fsync) the intent line; returns its entry id. Raises ``JournalError``."""
        entry_id = secrets.token_hex(8)
        self._append(
            {
                "ts": _now(),
                "id": entry_id,
                "phase": INTENT,
                "tool": tool,
                "account": account,
                "environment": environment,
                "method": method,
                "path": path,
                "params": {str(k): v for k, v in params.items() if k not in _DROPPED_PARAMS},
            }
        )
        return entry_id

    def record_outcome(self, entry_id: str, *, ok: bool, status: int | None, summary: Mapping[str, Any]) -> None:
        """Write (and fsync) the outcome line of ``entry_id``. Raises ``JournalError``."""
        self._append(
            {
                "ts": _now(),
                "id": entry_id,
                "phase": OUTCOME,
                "ok": bool(ok),
                "status": status,
                "summary": dict(summary),
            }
        )

    async def intent(self, **fields: Any) -> str:
        """``record_intent`` in a worker thread (the fsync never stalls the event loop)."""
        return await anyio.to_thread.run_sync(functools.partial(self.record_intent, **fields))

    async def outcome(self, entry_id: str, *, ok: bool, status: int | None, summary: Mapping[str, Any]) -> None:
        """``record_outcome`` in a worker thread."""
        await anyio.to_thread.run_sync(
            functools.partial(self.record_outcome, entry_id, ok=ok, status=status, summary=summary)
        )

    def latest(self, n: int = DEFAULT_LATEST) -> list[dict[str, Any]]:
        """The last ``n`` readable entries, oldest first. Lines torn by a crash are skipped."""
        if n <= 0:
            return []
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise JournalError(f"cannot read the journal {self.path}: {exc.strerror or type(exc).__name__}") from None
        try:
            check_descriptor(fd, self.path, "journal", private=False)
        except UnsafeFile as exc:
            os.close(fd)
            raise JournalError(f"cannot read the journal: {exc.message}") from None
        try:
            with os.fdopen(fd, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                position = handle.tell()
                data = b""
                # read backwards until n + 1 line breaks are in hand (or the file's start)
                while position > 0 and data.count(b"\n") <= n:
                    step = min(_READ_CHUNK, position)
                    position -= step
                    handle.seek(position)
                    data = handle.read(step) + data
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise JournalError(f"cannot read the journal {self.path}: {exc.strerror or type(exc).__name__}") from None
        lines = data.split(b"\n")
        if position > 0:
            lines = lines[1:]  # the first piece may be the tail of an earlier line
        entries: list[dict[str, Any]] = []
        for raw in lines:
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                continue  # torn by a crash mid-write
            if isinstance(entry, dict):
                entries.append(entry)
        return entries[-n:]

    # ------------------------------------------------------------------ writing

    def _append(self, entry: Mapping[str, Any]) -> None:
        text = json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str)
        if self._redactor is not None:
            text = self._redactor.redact(text)
        line = (text + "\n").encode("utf-8")
        with self._lock:
            try:
                fd = self._open()
            except UnsafeFile as exc:
                raise JournalError(f"cannot open the journal: {exc.message}") from None
            except OSError as exc:
                raise JournalError(
                    f"cannot open the journal {self.path}: {exc.strerror or type(exc).__name__}"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line  # a crash tore the last line: never glue onto it
                view = memoryview(line)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            except OSError as exc:
                raise JournalError(
                    f"cannot write the journal {self.path}: {exc.strerror or type(exc).__name__}"
                ) from None
            finally:
                os.close(fd)  # also releases the flock

    def _open(self) -> int:
        directory = self.path.parent
        if not directory.exists():
            directory.mkdir(parents=True, mode=DIRECTORY_MODE, exist_ok=True)
            os.chmod(directory, DIRECTORY_MODE)
        # never a planted symlink, a FIFO or another user's file; ours is tightened to 0600
        return open_private(self.path, "journal", flags=os.O_RDWR | os.O_APPEND)
