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

Buffers are bounded by bytes as well as by count: a subscription keeps at most ``max_bytes`` of
JSON (``MAX_BUFFER_BYTES``: events and snapshots together), and all subscriptions of a server share
one ``ByteBudget`` (``MAX_TOTAL_BYTES``): when it is full, the oldest events of the subscription
holding the most are dropped first. An update larger than a buffer (or than the room its snapshots
leave) is not kept. ``read`` reports each kind of drop once, with the limits that caused it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from binance_spot_mcp.errors import ToolInputError
from binance_spot_mcp.policy import ascii_lower, ascii_upper, is_symbol
from binance_spot_mcp.results import dumps

DEFAULT_BUFFER_EVENTS = 200
MAX_BUFFER_EVENTS = 1000
DEFAULT_READ_LIMIT = 50
MAX_BUFFER_BYTES = 2**20  # JSON characters one subscription keeps (events and snapshots)
MAX_TOTAL_BYTES = 32 * 2**20  # JSON characters all subscriptions of a server keep together
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


class ByteBudget:
    """The bytes all subscriptions of a server hold together, and who holds them."""

    def __init__(self, limit: int = MAX_TOTAL_BYTES) -> None:
        self.limit = limit
        self.used = 0
        self.holders: set[Subscription] = set()

    @property
    def over(self) -> bool:
        return self.used > self.limit


@dataclass(eq=False)
class Subscription:
    """One subscription: what the reader asked for and what arrived since."""

    id: str
    streams: tuple[str, ...]
    environment: str
    account: str | None = None
    capacity: int = DEFAULT_BUFFER_EVENTS
    max_bytes: int = MAX_BUFFER_BYTES
    budget: ByteBudget | None = None
    owner: str = ""  # the MCP session that opened it: only that session sees it
    created: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    seq: int = 0
    ring: deque[tuple[int, str, Any]] = field(init=False)
    states: dict[str, tuple[int, Any]] = field(default_factory=dict)
    dropped_unread: int = 0
    dropped_total: int = 0
    too_large_unread: int = 0  # updates not kept at all: larger than the buffer or the room left
    bytes: int = 0  # JSON characters held (ring and snapshots)
    gaps_unread: int = 0  # reconnects since the last read: events may be missing
    down: bool = False  # the connection is lost and not yet back
    last_cursor: int = 0
    received: int = 0
    readers: int = 0  # read_stream calls waiting right now: never idle while one waits
    closed_reason: str | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def __post_init__(self) -> None:
        self.ring = deque()
        self._sizes: deque[int] = deque()  # the JSON size of each ring entry, in step with ``ring``
        self._state_sizes: dict[str, int] = {}
        if self.budget is not None:
            self.budget.holders.add(self)

    @property
    def scope(self) -> str:
        return f"account {self.account}" if self.account else f"{self.environment} market"

    def push(self, stream: str, data: Any, size: int | None = None) -> None:
        """Keep one update; ``size`` is its JSON length (computed when not given)."""
        if self.closed_reason is not None:
            return
        size = len(dumps(data)) if size is None else size
        if size > self.max_bytes:
            self.too_large_unread += 1
            return
        if is_state_stream(stream):
            old = self.states.get(stream)
            old_size = self._state_sizes.get(stream, 0)
            self._count(size - old_size)
            self.states[stream], self._state_sizes[stream] = (self.seq + 1, data), size
            self._make_room()
            if self._over():  # the events are gone and the snapshots alone do not fit: drop this one
                self._count(old_size - size)
                if old is None:
                    del self.states[stream], self._state_sizes[stream]
                else:
                    self.states[stream], self._state_sizes[stream] = old, old_size
                self.too_large_unread += 1
                return
        else:
            self.ring.append((self.seq + 1, stream, data))
            self._sizes.append(size)
            self._count(size)
            self._make_room()
            if not self.ring or self.ring[-1][0] != self.seq + 1:  # no room even for this one
                return
        self.seq += 1
        self.received += 1
        self._signal()

    def _count(self, delta: int) -> None:
        self.bytes += delta
        if self.budget is not None:
            self.budget.used += delta

    def _over(self) -> bool:
        return self.bytes > self.max_bytes or (self.budget is not None and self.budget.over)

    def _make_room(self) -> None:
        """Drop the oldest events until this buffer is within its count and bytes, and all buffers
        within the shared budget (taking from the one that holds the most)."""
        while self.ring and (len(self.ring) > self.capacity or self.bytes > self.max_bytes):
            self._evict()
        budget = self.budget
        while budget is not None and budget.over:
            victim = max((s for s in budget.holders if s.ring), key=lambda s: s.bytes, default=None)
            if victim is None:
                break
            victim._evict()

    def _evict(self) -> None:
        seq = self.ring.popleft()[0]
        self._count(-self._sizes.popleft())
        if seq > self.seq:  # the update being pushed: it was never counted as received
            self.too_large_unread += 1
            return
        self.dropped_total += 1
        if seq > self.last_cursor:
            self.dropped_unread += 1

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
        self._count(-self.bytes)
        self.ring.clear()
        self._sizes.clear()
        self.states.clear()
        self._state_sizes.clear()
        if self.budget is not None:
            self.budget.holders.discard(self)
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

    async def read(
        self, cursor: int | None, *, wait_s: float, limit: int, budget_chars: int | None = None,
        shape: Callable[[Any], Any] = lambda data: data,
    ) -> dict[str, Any]:
        """What arrived after ``cursor`` (everything buffered when None); waits up to ``wait_s``
        for something new when nothing is.

        At most ``limit`` events, and, with ``budget_chars``, no more updates than fit in that many
        characters of JSON (always at least one): ``next_cursor`` is then the last update returned
        and ``more`` says to read again. So a result is never cut after the cursor has moved past
        what it holds, and nothing is skipped. ``shape`` turns each payload into what is returned
        (``labels.label_event``: full field names), before anything is measured."""
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
            (seq, {"seq": seq, "stream": stream, "data": shape(data)} if multi else {"seq": seq, "data": shape(data)})
            for seq, stream, data in events
        ]  # shaped before they are measured, so the budget holds for what is returned
        snapshots = [(seq, name, shape(data)) for name, (seq, data) in self.states.items() if after < seq <= next_cursor]
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
        if self.too_large_unread:
            out["dropped_too_large"] = self.too_large_unread
            self.too_large_unread = 0
        if "dropped" in out or "dropped_too_large" in out:
            out["dropped_reason"] = self._limits()
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

    def _limits(self) -> str:
        total = f", {self.budget.limit} bytes for all subscriptions" if self.budget is not None else ""
        return (f"this buffer keeps the newest {self.capacity} events and {self.max_bytes} bytes of JSON{total}; "
                "an update larger than that is not kept. Read more often, or subscribe to fewer streams.")

    def describe(self, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {
            "subscription": self.id,
            "scope": self.scope,
            "streams": list(self.streams),
            "latest_seq": self.seq,
            "buffered": len(self.ring),
            "buffered_bytes": self.bytes,
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
