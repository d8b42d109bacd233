"""What a stream subscription holds between reads: stream names, snapshots, ring buffers, cursors.

* Market stream names (web-socket-streams.md): ``<symbol>@trade``, ``@aggTrade``,
  ``@kline_<interval>``, ``@miniTicker``, ``@ticker``, ``@bookTicker``, ``@avgPrice`` and
  ``@depth5|10|20`` (optionally ``@100ms``). Symbols are lowercased, as Binance requires.
* User data events (user-data-stream.md): ``executionReport``, ``listStatus``,
  ``outboundAccountPosition``, ``balanceUpdate``.

State streams (tickers, book ticker, depth, klines, average price) keep only their latest
snapshot; event streams (trades, account events) keep a bounded ring buffer. Every update gets the
next sequence number of its subscription; a cursor is the last number the reader has seen, so
``read`` returns exactly what is newer, and says how many events the ring dropped unread.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from binance_spot_mcp.errors import ToolInputError
from binance_spot_mcp.policy import ascii_lower, ascii_upper, is_symbol
from binance_spot_mcp.results import dumps

DEFAULT_BUFFER_EVENTS = 200
MAX_BUFFER_EVENTS = 1000
DEFAULT_READ_LIMIT = 50
MAX_READ_LIMIT = 500

KLINE_INTERVALS = ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M")
_MARKET_RE = re.compile(
    r"^(?P<symbol>[^@]{1,20})@(?P<kind>trade|aggTrade|miniTicker|ticker|bookTicker|avgPrice|"
    r"kline_(?:" + "|".join(KLINE_INTERVALS) + r")|depth(?:5|10|20)(?:@100ms)?)$"
)
EVENT_KINDS = frozenset({"trade", "aggTrade"})
USER_EVENTS = ("executionReport", "listStatus", "outboundAccountPosition", "balanceUpdate")
MARKET_HELP = "trade, aggTrade, kline_<interval>, miniTicker, ticker, bookTicker, avgPrice, depth5/10/20"


def market_stream_name(raw: str) -> str:
    """Binance's spelling of a market stream name (symbol's ASCII letters lowercased; a Unicode
    symbol such as 这是测试币456 is kept as it is), or ToolInputError. The symbol must be one the
    REST tools take (``policy.is_symbol``): no spaces, controls or invisible characters."""
    text = raw.strip()
    symbol, at, rest = text.partition("@")
    name = f"{ascii_lower(symbol)}{at}{rest}"
    if not _MARKET_RE.match(name) or not is_symbol(ascii_upper(symbol)):
        raise ToolInputError(
            f"'{text[:60]}' is not a market stream name",
            parameter="streams",
            hint=f"Use <symbol>@<kind>, e.g. btcusdt@trade; kinds: {MARKET_HELP}.",
        )
    return name


def is_state_stream(name: str) -> bool:
    """True when only the latest update matters (tickers, book, depth, klines, average price)."""
    if name in USER_EVENTS:
        return False
    kind = name.split("@", 2)[1]
    return kind not in EVENT_KINDS


def user_event_names(raw: list[str]) -> tuple[str, ...]:
    names = []
    for item in raw:
        text = item.strip()
        if text not in USER_EVENTS:
            raise ToolInputError(
                f"'{text[:60]}' is not a user data event",
                parameter="streams",
                hint=f"With 'account', streams are user data events: {', '.join(USER_EVENTS)} (omit for all).",
            )
        names.append(text)
    return tuple(dict.fromkeys(names))


@dataclass(eq=False)
class Subscription:
    """One subscription: what the reader asked for and what arrived since."""

    id: str
    streams: tuple[str, ...]
    environment: str
    account: str | None = None
    capacity: int = DEFAULT_BUFFER_EVENTS
    created: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    seq: int = 0
    ring: deque[tuple[int, str, Any]] = field(init=False)
    states: dict[str, tuple[int, Any]] = field(default_factory=dict)
    dropped_unread: int = 0
    dropped_total: int = 0
    gaps_unread: int = 0  # reconnects since the last read: events may be missing
    down: bool = False  # the connection is lost and not yet back
    last_cursor: int = 0
    received: int = 0
    readers: int = 0  # read_stream calls waiting right now: never idle while one waits
    closed_reason: str | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def __post_init__(self) -> None:
        self.ring = deque(maxlen=self.capacity)

    @property
    def scope(self) -> str:
        return f"account {self.account}" if self.account else f"{self.environment} market"

    def push(self, stream: str, data: Any) -> None:
        self.seq += 1
        self.received += 1
        if is_state_stream(stream):
            self.states[stream] = (self.seq, data)
        else:
            if len(self.ring) == self.capacity:
                evicted = self.ring[0][0]
                self.dropped_total += 1
                if evicted > self.last_cursor:
                    self.dropped_unread += 1
            self.ring.append((self.seq, stream, data))
        self._signal()

    def lost(self) -> None:
        """The connection is lost; reads say so until ``gap`` reports it back. A waiting long
        poll is not woken for this: there is nothing new to read, and it would only be asked again."""
        self.down = True

    def gap(self) -> None:
        """The connection is back after ``lost`` (or the event stream was renewed): events in
        between may be missing. Nothing happens when it was not lost, so owners may call this for
        every subscription they serve."""
        if not self.down:
            return
        self.down = False
        self.gaps_unread += 1
        self._signal()

    def close(self, reason: str) -> None:
        self.closed_reason = reason
        self._signal()

    def _signal(self) -> None:
        self._wake.set()
        self._wake = asyncio.Event()

    def _newer(self, cursor: int) -> bool:
        return bool(
            (self.ring and self.ring[-1][0] > cursor)
            or any(seq > cursor for seq, _ in self.states.values())
            or self.gaps_unread
            or self.closed_reason
        )

    async def read(self, cursor: int | None, *, wait_s: float, limit: int, budget_chars: int | None = None) -> dict[str, Any]:
        """What arrived after ``cursor`` (everything buffered when None); waits up to ``wait_s``
        for something new when nothing is.

        At most ``limit`` events, and, with ``budget_chars``, no more updates than fit in that many
        characters of JSON (always at least one): ``next_cursor`` is then the last update returned
        and ``more`` says to read again. So a result is never cut after the cursor has moved past
        what it holds, and nothing is skipped."""
        self.last_used = time.monotonic()
        after = 0 if cursor is None else cursor
        if after > self.seq:
            raise ToolInputError(
                f"cursor {after} is ahead of this subscription (latest {self.seq})",
                parameter="cursor",
                hint="Pass the next_cursor of the previous read_stream result, or omit it.",
            )
        deadline = time.monotonic() + max(0.0, wait_s)
        waited = False
        self.readers += 1
        try:
            while not self._newer(after):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                waited = True
                wake = self._wake
                try:
                    async with asyncio.timeout(left):  # no extra task per wait, unlike wait_for on 3.11
                        await wake.wait()
                except TimeoutError:
                    break
        finally:
            self.readers -= 1
        self.last_used = time.monotonic()
        events = []
        for item in reversed(self.ring):  # newest first, stopping at the cursor: O(new events), not O(buffer)
            if item[0] <= after:
                break
            events.append(item)
        events.reverse()
        more = len(events) > limit
        events = events[:limit]
        next_cursor = events[-1][0] if more else self.seq
        multi = len(self.streams) > 1
        entries = [
            (seq, {"seq": seq, "stream": stream, "data": data} if multi else {"seq": seq, "data": data})
            for seq, stream, data in events
        ]
        snapshots = [(seq, name, data) for name, (seq, data) in self.states.items() if after < seq <= next_cursor]
        if budget_chars is not None and len(entries) + len(snapshots) > 1:
            fits = _last_that_fits(entries, snapshots, budget_chars)
            if fits < next_cursor:
                next_cursor, more = fits, True
                entries = [entry for entry in entries if entry[0] <= fits]
        out: dict[str, Any] = {"subscription": self.id, "next_cursor": next_cursor}
        out["events"] = [entry for _, entry in entries]
        latest = {name: data for seq, name, data in snapshots if seq <= next_cursor}
        if latest:
            out["latest"] = latest
        if more:
            out["more"] = True
        if self.dropped_unread and after >= self.last_cursor:
            out["dropped"] = self.dropped_unread
            self.dropped_unread = 0
        if self.gaps_unread:
            out["reconnected"] = self.gaps_unread
            self.gaps_unread = 0
        if self.down:
            out["connection"] = "lost, reconnecting: events until it is back may be missing"
        if self.closed_reason:
            out["closed"] = self.closed_reason
        if not events and not latest and waited:
            out["timed_out"] = True
        self.last_cursor = max(self.last_cursor, next_cursor)
        return out

    def describe(self, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {
            "subscription": self.id,
            "scope": self.scope,
            "streams": list(self.streams),
            "latest_seq": self.seq,
            "buffered": len(self.ring),
            "idle_seconds": round(now - self.last_used, 1),
        }
        if self.dropped_total:
            out["dropped_total"] = self.dropped_total
        return out


def _last_that_fits(
    entries: list[tuple[int, dict[str, Any]]], snapshots: list[tuple[int, str, Any]], budget_chars: int
) -> int:
    """The highest sequence number such that every update up to it, in order, fits in
    ``budget_chars`` of JSON; the first update counts as fitting whatever its size."""
    sizes = [(seq, len(dumps(entry)) + 1) for seq, entry in entries]
    sizes += [(seq, len(dumps(name)) + len(dumps(data)) + 2) for seq, name, data in snapshots]
    sizes.sort()
    used = 0
    for index, (seq, size) in enumerate(sizes):
        used += size
        if used > budget_chars and index:
            return sizes[index - 1][0]
    return sizes[-1][0]
