"""Client-side rate limiting: never send a request that would cross one of Binance's limits.

Binance counts, per IP and per clock-aligned window (rest-api.md, "LIMITS"):

* ``REQUEST_WEIGHT``  the summed weight of requests (default 6000 per minute),
* ``RAW_REQUESTS``    the number of requests (default 61000 per 5 minutes),
* ``ORDERS``          the unfilled order count (default 100 per 10 s and 200000 per day; Binance
                      tracks it per account, we track it per host, which only errs on the safe side).

``RateLimiter`` keeps these counters for each host (scheme + host + port of the base URL):

* ``acquire`` reserves a request's weight *before* it is sent, so concurrent callers can never
  overshoot together. If the reservation does not fit, the caller waits for the window that has
  room when that is at most ``max_wait_s`` away, else gets ``RateLimited`` saying when to retry.
* ``observe`` reads ``X-MBX-USED-WEIGHT-*`` / ``X-MBX-ORDER-COUNT-*`` from every reply and adopts
  the server's count when it is higher (the server also sees other processes on this IP); a 429
  blocks the host until ``Retry-After`` has passed, a 418 bans it (``IpBanned``) until then.
* ``configure`` adopts ``exchangeInfo.rateLimits``; until then the documented defaults apply.

Two margins keep the plan on the safe side of the server's count:

* ``headroom`` (default 5 %): only ``limit - ceil(limit * headroom)`` is ever planned, which
  leaves room for other clients on the same IP and for counts we have not seen yet.
* ``clock_skew_s`` (default 1 s, at most a tenth of the window): our clock and the moment the
  request reaches Binance may differ by that much, so a request sent that close to a window
  boundary is counted in *both* windows it may land in.

All waiting goes through the injected ``sleep`` and all time through the injected ``clock``
(seconds since the epoch), so tests run on virtual time. The limiter is safe for any number of
concurrent asyncio/anyio tasks: a reservation is checked and booked without awaiting in between.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import anyio

from binance_spot_mcp.errors import BinanceSpotError

logger = logging.getLogger(__name__)

DEFAULT_MAX_WAIT_S = 10.0
DEFAULT_HEADROOM = 0.05
DEFAULT_CLOCK_SKEW_S = 1.0
MAX_SKEW_FRACTION_OF_WINDOW = 0.1
DEFAULT_RETRY_AFTER_S = 60.0  # a 429 without a usable Retry-After
DEFAULT_BAN_S = 120.0  # a 418 without a usable Retry-After (Binance's shortest ban)
MAX_FIT_SEARCH_STEPS = 100_000

REQUEST_WEIGHT = "REQUEST_WEIGHT"
ORDERS = "ORDERS"
RAW_REQUESTS = "RAW_REQUESTS"

INTERVAL_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}
_LETTER_SECONDS = {"S": 1, "M": 60, "H": 3600, "D": 86400}
_HEADER_RE = re.compile(r"^x-mbx-(used-weight|order-count)-(\d+)([smhd])$", re.IGNORECASE)
_HEADER_KIND = {"used-weight": REQUEST_WEIGHT, "order-count": ORDERS}

DEFAULT_RATE_LIMITS: tuple[Mapping[str, Any], ...] = (
    {"rateLimitType": REQUEST_WEIGHT, "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": ORDERS, "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": ORDERS, "interval": "DAY", "intervalNum": 1, "limit": 200000},
    {"rateLimitType": RAW_REQUESTS, "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
)


def iso_time(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat(timespec="seconds")


class RateLimited(BinanceSpotError):
    """Sending now would cross a rate limit (or the host answered 429); nothing was sent."""

    kind = "rate_limited"
    default_hint = "Nothing was sent. Call again after the retry time, or make fewer or lighter calls."

    def __init__(self, message: str, *, retry_at: float | None, now: float, hint: str | None = None) -> None:
        if retry_at is not None:
            wait = max(0.0, retry_at - now)
            message = f"{message} Retry at {iso_time(retry_at)} (in {wait:.1f} s)."
        super().__init__(message, hint=hint)
        self.retry_at = retry_at
        self.retry_after_s = None if retry_at is None else max(0.0, retry_at - now)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.retry_at is not None:
            out["retry_at"] = iso_time(self.retry_at)
            out["retry_after_s"] = round(self.retry_after_s or 0.0, 3)
        return out


class IpBanned(BinanceSpotError):
    """The host answered 418: this IP is banned until ``banned_until``; nothing was sent."""

    kind = "ip_banned"
    default_hint = "Binance banned this IP for exceeding rate limits: make no calls to it until the ban ends."

    def __init__(self, host: str, *, banned_until: float, now: float) -> None:
        wait = max(0.0, banned_until - now)
        super().__init__(
            f"{host} has banned this IP: banned until {iso_time(banned_until)} ({wait:.0f} s from now). Nothing was sent."
        )
        self.banned_until = banned_until

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["banned_until"] = iso_time(self.banned_until)
        return out


@dataclass
class _Counter:
    """One limit (type, window length) with its per-window counts, keyed by window index."""

    kind: str
    window_s: int
    limit: int
    headroom: float
    clock_skew_s: float
    counts: dict[int, int] = field(default_factory=dict)

    @property
    def budget(self) -> int:
        return max(0, self.limit - math.ceil(self.limit * self.headroom))

    @property
    def skew(self) -> float:
        return min(self.clock_skew_s, self.window_s * MAX_SKEW_FRACTION_OF_WINDOW)

    def describe(self) -> str:
        return f"{self.kind} limit of {self.limit} per {_interval_text(self.window_s)}"

    def windows(self, t: float) -> tuple[int, ...]:
        """The windows a request sent at ``t`` may land in, given the clock skew allowance."""
        early, late = math.floor((t - self.skew) / self.window_s), math.floor((t + self.skew) / self.window_s)
        return (early,) if early == late else (early, late)

    def fits(self, t: float, cost: int) -> bool:
        capacity = max(self.budget, cost)  # a request heavier than the margin may go into an empty window
        return all(self.counts.get(w, 0) + cost <= capacity for w in self.windows(t))

    def add(self, t: float, cost: int) -> None:
        for w in self.windows(t):
            self.counts[w] = self.counts.get(w, 0) + cost

    def next_change(self, t: float) -> float:
        """The first time after ``t`` at which ``windows`` gives another answer."""
        base = math.floor(t / self.window_s) * self.window_s
        candidates = [
            b + offset
            for b in (base, base + self.window_s, base + 2 * self.window_s)
            for offset in (-self.skew, self.skew)
        ]
        return min(c for c in candidates if c > t)

    def adopt(self, t: float, server_count: int) -> None:
        """Take the server's count for the window at ``t`` when it is higher than ours.

        Near a boundary the reply may describe either window, so it is only used away from one.
        """
        windows = self.windows(t)
        if len(windows) == 1 and server_count > self.counts.get(windows[0], 0):
            self.counts[windows[0]] = server_count

    def prune(self, t: float) -> None:
        oldest = math.floor((t - self.skew) / self.window_s)
        for w in [w for w in self.counts if w < oldest]:
            del self.counts[w]


def _interval_text(seconds: int) -> str:
    for name, size in (("DAY", 86400), ("HOUR", 3600), ("MINUTE", 60), ("SECOND", 1)):
        if seconds % size == 0:
            n = seconds // size
            return f"{name.lower()}" if n == 1 else f"{n} {name.lower()}s"
    return f"{seconds} s"


@dataclass
class _Host:
    name: str
    counters: list[_Counter]
    blocked_until: float = 0.0  # after a 429
    banned_until: float = 0.0  # after a 418

    def costs(self, weight: int, orders: int) -> list[tuple[_Counter, int]]:
        out = []
        for counter in self.counters:
            cost = {REQUEST_WEIGHT: weight, ORDERS: orders, RAW_REQUESTS: 1}.get(counter.kind, 0)
            if cost > 0:
                out.append((counter, cost))
        return out

    def fits(self, t: float, costs: list[tuple[_Counter, int]]) -> bool:
        return t >= self.blocked_until and all(counter.fits(t, cost) for counter, cost in costs)

    def earliest_fit(self, now: float, costs: list[tuple[_Counter, int]]) -> float | None:
        t = max(now, self.blocked_until)
        for _ in range(MAX_FIT_SEARCH_STEPS):
            if self.fits(t, costs):
                return t
            t = min(counter.next_change(t) for counter, _ in costs) if costs else self.blocked_until
        return None

    def windows_at(self, t: float, costs: list[tuple[_Counter, int]]) -> list[tuple[int, ...]]:
        return [counter.windows(t) for counter, _ in costs]

    def reserve(self, now: float, t: float, costs: list[tuple[_Counter, int]]) -> None:
        for counter, cost in costs:
            counter.prune(now)
            counter.add(t, cost)

    def release(self, t: float, costs: list[tuple[_Counter, int]]) -> None:
        for counter, cost in costs:
            for w in counter.windows(t):
                if w in counter.counts:
                    counter.counts[w] = max(0, counter.counts[w] - cost)


def host_key(base_url: str) -> str:
    """``scheme://host[:port]`` of a base URL, lower-cased: the unit Binance limits (per IP)."""
    parts = urlsplit(base_url.strip())
    if not parts.scheme or not parts.netloc:
        return base_url.strip().rstrip("/").lower()
    return f"{parts.scheme}://{parts.netloc}".lower()


class RateLimiter:
    """Process-wide request/order rate limiter, one set of counters per host."""

    def __init__(
        self,
        *,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
        headroom: float = DEFAULT_HEADROOM,
        clock_skew_s: float = DEFAULT_CLOCK_SKEW_S,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if not 0 <= headroom < 1:
            raise ValueError("headroom must be in [0, 1)")
        self.max_wait_s = max_wait_s
        self.headroom = headroom
        self.clock_skew_s = clock_skew_s
        self._clock = clock
        self._sleep = sleep
        self._hosts: dict[str, _Host] = {}
        self._lock = threading.Lock()  # never held across an await

    # ------------------------------------------------------------------ configuration
    def configure(self, base_url: str, rate_limits: Sequence[Mapping[str, Any]]) -> None:
        """Adopt ``exchangeInfo.rateLimits`` for this host; an empty list keeps the defaults."""
        counters = self._counters(rate_limits)
        if not counters:
            logger.warning("no usable rateLimits for %s; keeping the documented defaults", host_key(base_url))
            return
        with self._lock:
            host = self._host(base_url)
            old = {(c.kind, c.window_s): c for c in host.counters}
            for counter in counters:
                previous = old.get((counter.kind, counter.window_s))
                if previous is not None:
                    counter.counts = previous.counts
            host.counters = counters

    def limits(self, base_url: str) -> list[dict[str, Any]]:
        """The limits in force for a host, in exchangeInfo's shape plus the planned budget."""
        with self._lock:
            return [
                {"rateLimitType": c.kind, "intervalSeconds": c.window_s, "limit": c.limit, "budget": c.budget}
                for c in self._host(base_url).counters
            ]

    def used(self, base_url: str, kind: str = REQUEST_WEIGHT, window_s: int = 60) -> int:
        """Our count (reservations and adopted server counts) for the current window."""
        with self._lock:
            now = self._clock()
            for counter in self._host(base_url).counters:
                if counter.kind == kind and counter.window_s == window_s:
                    return counter.counts.get(math.floor(now / counter.window_s), 0)
        return 0

    # ------------------------------------------------------------------ before a request
    async def acquire(self, base_url: str, weight: int, *, orders: int = 0) -> None:
        """Reserve ``weight`` (and ``orders``) for one request to ``base_url`` about to be sent.

        Returns at once when the request fits, after a wait of at most ``max_wait_s`` when it
        fits then; otherwise raises ``RateLimited`` (with ``retry_at``) or, during a 418 ban,
        ``IpBanned``. Nothing is reserved when it raises.
        """
        if weight < 0 or orders < 0:
            raise ValueError("weight and orders must not be negative")
        started = self._clock()
        while True:
            with self._lock:
                now = self._clock()
                host = self._host(base_url)
                self._check_ban(host, now)
                costs = host.costs(weight, orders)
                for counter, cost in costs:
                    if cost > counter.limit:
                        raise RateLimited(
                            f"this request needs {cost} against the {counter.describe()} of {host.name}, "
                            "so it can never be sent; make it lighter (fewer symbols, a smaller limit).",
                            retry_at=None,
                            now=now,
                            hint="Nothing was sent. Narrow the request.",
                        )
                at = host.earliest_fit(now, costs)
                # the wait counts from the first try; a request that fits now (after a late
                # wake-up, say) is sent, never refused for time already spent
                if at is None or (at > now and at - started > self.max_wait_s):
                    raise RateLimited(self._why(host, now, costs), retry_at=at, now=now)
                host.reserve(now, at, costs)
                if at <= now:
                    return
                planned = host.windows_at(at, costs)
            await self._sleep(at - now)
            with self._lock:
                now = self._clock()
                if now >= host.banned_until and now >= host.blocked_until and host.windows_at(now, costs) == planned:
                    return
                host.release(at, costs)  # a ban, a 429 or a late wake-up: plan again
                logger.debug("re-planning a reservation for %s after the wait", host.name)

    def _why(self, host: _Host, now: float, costs: list[tuple[_Counter, int]]) -> str:
        if now < host.blocked_until:
            return f"{host.name} answered 429 (too many requests); it must not be called before the retry time."
        full = [counter.describe() for counter, cost in costs if not counter.fits(now, cost)]
        reason = "the " + " and the ".join(full) if full else "a rate limit"
        return f"sending this now would cross {reason} of {host.name}; nothing was sent."

    def _check_ban(self, host: _Host, now: float) -> None:
        if now < host.banned_until:
            raise IpBanned(host.name, banned_until=host.banned_until, now=now)

    # ------------------------------------------------------------------ after a reply
    def observe(self, base_url: str, status: int, headers: Mapping[str, str]) -> None:
        """Learn from one reply: used-weight/order-count headers, 429 Retry-After, 418 bans."""
        with self._lock:
            now = self._clock()
            host = self._host(base_url)
            for name, value in headers.items():
                match = _HEADER_RE.match(name)
                if not match:
                    continue
                try:
                    count = int(str(value).strip())
                except ValueError:
                    continue
                kind = _HEADER_KIND[match.group(1).lower()]
                window_s = int(match.group(2)) * _LETTER_SECONDS[match.group(3).upper()]
                for counter in host.counters:
                    if counter.kind == kind and counter.window_s == window_s:
                        counter.adopt(now, count)
            if status in (418, 429):
                retry_after = _retry_after_s(headers, DEFAULT_BAN_S if status == 418 else DEFAULT_RETRY_AFTER_S)
                until = now + retry_after
                if status == 418:
                    host.banned_until = max(host.banned_until, until)
                    logger.warning("%s banned this IP until %s", host.name, iso_time(host.banned_until))
                else:
                    host.blocked_until = max(host.blocked_until, until)
                    logger.warning("%s answered 429; holding requests until %s", host.name, iso_time(until))

    # ------------------------------------------------------------------ internals
    def _host(self, base_url: str) -> _Host:
        key = host_key(base_url)
        host = self._hosts.get(key)
        if host is None:
            host = _Host(key, self._counters(DEFAULT_RATE_LIMITS))
            self._hosts[key] = host
        return host

    def _counters(self, rate_limits: Sequence[Mapping[str, Any]]) -> list[_Counter]:
        counters: list[_Counter] = []
        for entry in rate_limits:
            try:
                kind = str(entry["rateLimitType"])
                window_s = INTERVAL_SECONDS[str(entry["interval"])] * int(entry["intervalNum"])
                limit = int(entry["limit"])
            except (KeyError, TypeError, ValueError):
                logger.warning("ignoring a rate limit entry that cannot be read: %r", entry)
                continue
            if kind not in {REQUEST_WEIGHT, ORDERS, RAW_REQUESTS} or window_s <= 0 or limit <= 0:
                logger.warning("ignoring an unknown rate limit entry: %r", entry)
                continue
            counters.append(_Counter(kind, window_s, limit, self.headroom, self.clock_skew_s))
        return counters


def _retry_after_s(headers: Mapping[str, str], default: float) -> float:
    raw = None
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value
            break
    try:
        seconds = float(str(raw).strip()) if raw is not None else default
    except ValueError:
        seconds = default
    return seconds if math.isfinite(seconds) and seconds >= 0 else default
