"""The audit journal: one JSON line per state-changing request, written before it is sent.

For every request that may change state the server writes an ``intent`` line (flushed and
fsync'd) *before* the request leaves the machine, and an ``outcome`` line when the answer (or
the failure) is known. After a crash, an intent without an outcome is a request whose fate
must be looked up (invariant 4), never blindly repeated::

    {"ts": "2025-01-02T03:04:05.678Z", "id": "…", "phase": "intent", "tool": "place_order",
     "account": "main", "environment": "testnet", "method": "POST", "path": "/api/v3/order",
     "params": {"symbol": "BTCUSDT", ...}, "approved_via": "form", "approval_id": "…", "key": "…"}
    {"ts": "...", "id": "…", "phase": "outcome", "ok": true, "status": 200, "summary": {...}}
    {"ts": "...", "id": "…", "phase": "account_change", "action": "replace", "account": "main", ...}

``approved_via`` is how a human approved a mainnet change (form, url, app or chat) and
``approval_id`` names that approval; both are written before the request is sent.

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
import functools
import json
import os
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import anyio.to_thread

from binance_spot_mcp.errors import JournalError
from binance_spot_mcp.redact import Redactor
from binance_spot_mcp.safe_files import UnsafeFile, check_descriptor, open_private

INTENT, OUTCOME, ACCOUNT_CHANGE = "intent", "outcome", "account_change"
NOT_APPROVED = "not approved"  # approved_via of a change the human declined, let expire or could not be asked
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
DEFAULT_LATEST = 20
_DROPPED_PARAMS = frozenset({"signature"})
_READ_CHUNK = 64 * 1024
SINCE_MARGIN = timedelta(minutes=5)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now() -> str:
    return _stamp(datetime.now(UTC))


def _parse(raw: bytes) -> dict[str, Any] | None:
    if not raw.strip():
        return None
    try:
        entry = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None  # torn by a crash mid-write
    return entry if isinstance(entry, dict) else None


def _first_stamp(data: bytes) -> str | None:
    """The timestamp of the first readable line of ``data``."""
    for raw in data.split(b"\n"):
        entry = _parse(raw)
        if entry is not None and isinstance(entry.get("ts"), str):
            return entry["ts"]
    return None


class RecentEntries:
    """The entries of a journal since a moving cutoff, kept up to date by reading only what was
    appended since the last look (any process may append). Falls back to ``Journal.since`` when
    the file was replaced or shrank. Not thread-safe: callers serialise (the guard's lock)."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._entries: list[dict[str, Any]] = []
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file read
        self._offset = 0  # bytes consumed (always at a line end)

    def since(self, cutoff: datetime) -> list[dict[str, Any]]:
        path = self._journal.path
        try:
            info = os.stat(path)
        except FileNotFoundError:
            self._entries, self._identity, self._offset = [], None, 0
            return []
        except OSError as exc:
            raise JournalError(f"cannot read the journal {path}: {exc.strerror or type(exc).__name__}") from None
        identity = (info.st_dev, info.st_ino)
        if identity != self._identity or info.st_size < self._offset:
            self._entries = self._journal.since(cutoff)
            self._identity, self._offset = identity, self._line_end(path, info.st_size)
        elif info.st_size > self._offset:
            self._read_new(path)
        wanted = _stamp(cutoff)
        self._entries = [e for e in self._entries if str(e.get("ts", "")) >= wanted]
        return list(self._entries)

    def _line_end(self, path: Path, size: int) -> int:
        """Where the last complete line of the file ends (what ``since`` has seen)."""
        try:
            with open(path, "rb") as handle:
                position = max(0, size - _READ_CHUNK)
                handle.seek(position)
                tail = handle.read(size - position)
        except OSError:
            return 0
        cut = tail.rfind(b"\n")
        return position + cut + 1 if cut >= 0 else 0

    def _read_new(self, path: Path) -> None:
        try:
            with open(path, "rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except OSError as exc:
            raise JournalError(f"cannot read the journal {path}: {exc.strerror or type(exc).__name__}") from None
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written is read next time
        self._offset += len(complete)
        for raw in complete.split(b"\n"):
            entry = _parse(raw)
            if entry is not None:
                self._entries.append(entry)


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
        approval: Mapping[str, str] | None = None,
        policy: Mapping[str, Any] | None = None,
        key: str | None = None,
    ) -> str:
        """Write (and fsync) the intent line; returns its entry id. Raises ``JournalError``.

        ``approval`` says how a human approved it (``approved_via`` form|url|app|chat and the
        ``approval_id``); None where no approval was needed (testnet, demo). ``policy`` is what
        the guard rails found (the order's value, a dry run, a refusal). ``key`` is the one-way
        identity of the API key that signs it (``guard.daily.key_identity``): daily totals are
        counted per key, never by the entry's name."""
        entry_id = secrets.token_hex(8)
        extra: dict[str, Any] = {"policy": dict(policy)} if policy else {}
        if key:
            extra["key"] = key
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
                "approved_via": (approval or {}).get("approved_via", "not required"),
                "approval_id": (approval or {}).get("approval_id"),
                **({"approved_summary": approval["summary"]} if approval and approval.get("summary") else {}),
                **extra,
            }
        )
        return entry_id

    def record_account_change(
        self,
        *,
        action: str,
        account: str,
        environment: str | None,
        previous_environment: str | None = None,
        approval: Mapping[str, str] | None = None,
        via: str = "mcp",
        backup: str | None = None,
    ) -> str:
        """Write (and fsync) one change to the accounts file (add, replace, remove). Never keys."""
        entry_id = secrets.token_hex(8)
        self._append(
            {
                "ts": _now(),
                "id": entry_id,
                "phase": ACCOUNT_CHANGE,
                "action": action,
                "account": account,
                "environment": environment,
                "previous_environment": previous_environment,
                "via": via,
                "approved_via": (approval or {}).get("approved_via", "not required"),
                "approval_id": (approval or {}).get("approval_id"),
                "backup": backup,
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
        # enough once n + 1 line breaks are in hand
        lines = self._tail_lines(lambda data, _: data.count(b"\n") > n)
        entries = [entry for entry in map(_parse, lines) if entry is not None]
        return entries[-n:]

    def since(self, cutoff: datetime) -> list[dict[str, Any]]:
        """Every readable entry written at or after ``cutoff`` (UTC), oldest first.

        Reads backwards from the end until a line older than ``cutoff`` minus
        ``SINCE_MARGIN`` is met (writers may append a little out of time order)."""
        floor = _stamp(cutoff - SINCE_MARGIN)

        def old_enough(data: bytes, position: int) -> bool:
            complete = data.split(b"\n", 1)[1] if position > 0 and b"\n" in data else data
            first = _first_stamp(complete)
            return first is not None and first < floor

        wanted = _stamp(cutoff)
        entries = []
        for raw in self._tail_lines(old_enough):
            entry = _parse(raw)
            if entry is not None and str(entry.get("ts", "")) >= wanted:
                entries.append(entry)
        return entries

    def _tail_lines(self, enough: Callable[[bytes, int], bool]) -> list[bytes]:
        """The journal's last lines, read backwards a chunk at a time until ``enough(data,
        position)`` (what was read, where it starts) or the file's start; only whole lines."""
        try:
            with self._read_handle() as handle:
                if handle is None:
                    return []
                handle.seek(0, os.SEEK_END)
                position = handle.tell()
                data = b""
                while position > 0 and not enough(data, position):
                    step = min(_READ_CHUNK, position)
                    position -= step
                    handle.seek(position)
                    data = handle.read(step) + data
        except OSError as exc:
            raise JournalError(f"cannot read the journal {self.path}: {exc.strerror or type(exc).__name__}") from None
        lines = data.split(b"\n")
        return lines[1:] if position > 0 else lines  # the first piece may be the tail of an earlier line

    @contextmanager
    def _read_handle(self) -> Iterator[BinaryIO | None]:
        """The journal opened for reading (None when there is none yet): never through a symlink,
        and only a regular file of this user's (``check_descriptor``)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            yield None
            return
        except OSError as exc:
            raise JournalError(f"cannot read the journal {self.path}: {exc.strerror or type(exc).__name__}") from None
        try:
            check_descriptor(fd, self.path, "journal", private=False)
        except UnsafeFile as exc:
            os.close(fd)
            raise JournalError(f"cannot read the journal: {exc.message}") from None
        with os.fdopen(fd, "rb") as handle:
            yield handle

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
