"""The rate limiter, on virtual time: reservations never cross a limit, waits and bans behave."""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from binance_spot_mcp.errors import BinanceSpotError
from binance_spot_mcp.exchange.limits import (
    DEFAULT_RATE_LIMITS,
    IpBanned,
    RateLimited,
    RateLimiter,
    host_key,
)

pytestmark = pytest.mark.anyio

BASE = "https://api.binance.com"
MINUTE_100 = [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 100}]


class VirtualTime:
    """A clock that only moves when every task is blocked: then it jumps to the next wake-up."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._heap: list[tuple[float, int, anyio.Event]] = []
        self._ids = itertools.count()
        self.driving = False

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        assert self.driving, "a sleep outside VirtualTime.run would never end"
        event = anyio.Event()
        heapq.heappush(self._heap, (self.now + seconds, next(self._ids), event))
        await event.wait()

    async def drive(self) -> None:
        """Run in the background of a task group: advance time whenever all tasks are blocked."""
        while True:
            await anyio.wait_all_tasks_blocked()
            if not self._heap:
                await anyio.lowlevel.checkpoint()
                continue
            target = self._heap[0][0]
            self.now = max(self.now, target)
            while self._heap and self._heap[0][0] <= self.now:
                heapq.heappop(self._heap)[2].set()

    async def run(self, *jobs: Callable[[], Awaitable[None]]) -> None:
        self.driving = True
        try:
            async with anyio.create_task_group() as outer:
                outer.start_soon(self.drive)
                async with anyio.create_task_group() as inner:
                    for job in jobs:
                        inner.start_soon(job)
                outer.cancel_scope.cancel()
        finally:
            self.driving = False


def limiter_at(start: float, limits: list[dict[str, Any]] | None = MINUTE_100, **kwargs: Any) -> tuple[RateLimiter, VirtualTime]:
    vt = VirtualTime(start)
    limiter = RateLimiter(clock=vt.clock, sleep=vt.sleep, **kwargs)
    if limits is not None:
        limiter.configure(BASE, limits)
    return limiter, vt


def per_window(sent: list[tuple[float, int]], window_s: float, offset_s: float = 0.0) -> dict[int, int]:
    totals: dict[int, int] = defaultdict(int)
    for at, weight in sent:
        totals[math.floor((at - offset_s) / window_s)] += weight
    return totals


async def test_burst_of_500_concurrent_callers_never_overshoots() -> None:
    boundary = 60.0 * 28_000_000  # a minute boundary
    limiter, vt = limiter_at(boundary - 5)
    sent: list[tuple[float, int]] = []
    refused: list[RateLimited] = []

    async def call() -> None:
        try:
            await limiter.acquire(BASE, 1)
        except RateLimited as exc:
            refused.append(exc)
        else:
            sent.append((vt.clock(), 1))

    await vt.run(*[call for _ in range(500)])
    # 95 (100 minus the 5 % headroom) go at once, 95 more wait 6 s for the next minute (+1 s skew
    # allowance), and the rest would wait more than 10 s: they fail fast with the retry time.
    assert len(sent) == 190 and len(refused) == 310
    assert sorted({at for at, _ in sent}) == [boundary - 5, boundary + 1]
    assert {exc.retry_at for exc in refused} == {boundary + 61}
    for skew in (-0.9, 0.0, 0.9):  # whatever the offset of the server's clock within the allowance
        assert max(per_window(sent, 60, skew).values()) <= 100


async def test_random_traffic_fits_every_skewed_server_window() -> None:
    rng = random.Random(7)
    limiter, vt = limiter_at(60.0 * 27_000_000 + 13.3, max_wait_s=30)
    sent: list[tuple[float, int]] = []

    async def call(delay: float, weight: int, orders: int) -> None:
        await vt.sleep(delay)
        try:
            await limiter.acquire(BASE, weight, orders=orders)
        except RateLimited:
            return
        sent.append((vt.clock(), weight))

    jobs = [partial(call, rng.uniform(0, 400), rng.randint(1, 12), rng.choice([0, 0, 1])) for _ in range(500)]
    await vt.run(*jobs)
    assert len(sent) > 100
    for skew in (-0.95, -0.3, 0.0, 0.4, 0.95):
        assert max(per_window(sent, 60, skew).values()) <= 100


class StrictServer:
    """A tiny exchange: 429 once a minute's weight would pass the limit; its clock runs ``offset`` ahead."""

    def __init__(self, vt: VirtualTime, limit: int, offset: float) -> None:
        self.vt, self.limit, self.offset = vt, limit, offset
        self.used: dict[int, int] = defaultdict(int)
        self.statuses: list[int] = []

    def handle(self, weight: int) -> tuple[int, dict[str, str]]:
        window = math.floor((self.vt.clock() + self.offset) / 60)
        if self.used[window] + weight > self.limit:
            self.statuses.append(429)
            return 429, {"Retry-After": "30", "X-MBX-USED-WEIGHT-1M": str(self.used[window])}
        self.used[window] += weight
        self.statuses.append(200)
        return 200, {"X-MBX-USED-WEIGHT-1M": str(self.used[window])}


@pytest.mark.parametrize("offset", [-0.6, 0.0, 0.6])
async def test_burst_against_a_strict_server_never_gets_429(offset: float) -> None:
    limiter, vt = limiter_at(60.0 * 29_000_000 - 2.5, max_wait_s=70)
    server = StrictServer(vt, 100, offset)
    # someone else on this IP already used 50 in the server's current minute: the first reply
    # tells us, and the burst that follows has to fit in what is left
    server.used[math.floor((vt.clock() + offset) / 60)] = 50
    rng = random.Random(11)
    await limiter.acquire(BASE, 1)
    limiter.observe(BASE, *server.handle(1))

    async def call(weight: int) -> None:
        try:
            await limiter.acquire(BASE, weight)
        except RateLimited:
            return
        await vt.sleep(rng.uniform(0.01, 0.3))  # latency: the request arrives a little later
        status, headers = server.handle(weight)
        limiter.observe(BASE, status, headers)

    await vt.run(*[partial(call, rng.choice([1, 2, 5])) for _ in range(500)])
    assert 429 not in server.statuses
    assert len(server.statuses) > 60


async def test_short_wait_waits_then_sends() -> None:
    limiter, vt = limiter_at(60.0 * 1000 + 55)
    await limiter.acquire(BASE, 95)
    await vt.run(lambda: limiter.acquire(BASE, 10))
    assert vt.sleeps == [pytest.approx(6.0)]  # to the next minute, plus the 1 s skew allowance
    assert vt.clock() == pytest.approx(60.0 * 1001 + 1)


async def test_long_wait_fails_fast_with_the_retry_time() -> None:
    limiter, vt = limiter_at(60.0 * 1000 + 20)
    await limiter.acquire(BASE, 95)
    with pytest.raises(RateLimited) as caught:
        await limiter.acquire(BASE, 1)
    exc = caught.value
    assert isinstance(exc, BinanceSpotError) and exc.kind == "rate_limited"
    assert exc.retry_at == pytest.approx(60.0 * 1001 + 1)
    assert "1970-01-01T16:41:01+00:00" in exc.message and "(in 41.0 s)" in exc.message
    assert "REQUEST_WEIGHT limit of 100 per minute" in exc.message
    assert exc.to_dict()["retry_at"] == "1970-01-01T16:41:01+00:00"
    assert vt.sleeps == []
    assert limiter.used(BASE) == 95  # a refusal reserves nothing


async def test_a_request_heavier_than_the_limit_is_refused_outright() -> None:
    limiter, _ = limiter_at(60.0 * 1000 + 20)
    with pytest.raises(RateLimited, match="can never be sent") as caught:
        await limiter.acquire(BASE, 250)
    assert caught.value.retry_at is None
    await limiter.acquire(BASE, 100)  # heavier than the 95 budget but within the limit: fits an empty window


async def test_429_blocks_the_host_for_retry_after() -> None:
    limiter, vt = limiter_at(60.0 * 1000 + 10)
    limiter.observe(BASE, 429, {"Retry-After": "5"})
    await vt.run(lambda: limiter.acquire(BASE, 1))
    assert vt.sleeps == [pytest.approx(5.0)]
    limiter.observe(BASE, 429, {"retry-after": "30"})
    with pytest.raises(RateLimited, match="answered 429") as caught:
        await limiter.acquire(BASE, 1)
    assert caught.value.retry_at == pytest.approx(vt.clock() + 30)
    await limiter.acquire("https://testnet.binance.vision", 1)  # other hosts are not affected


async def test_418_ban_refuses_without_waiting_until_it_ends() -> None:
    limiter, vt = limiter_at(60.0 * 1000)
    limiter.observe(BASE, 418, {"Retry-After": "120", "X-MBX-USED-WEIGHT-1M": "7"})
    with pytest.raises(IpBanned) as caught:
        await limiter.acquire(BASE, 1)
    exc = caught.value
    assert exc.kind == "ip_banned" and exc.banned_until == 60.0 * 1000 + 120
    assert "banned until 1970-01-01T16:42:00+00:00" in exc.message
    assert exc.to_dict()["banned_until"] == "1970-01-01T16:42:00+00:00"
    assert vt.sleeps == []
    vt.now += 119
    with pytest.raises(IpBanned):
        await limiter.acquire(BASE, 1)
    vt.now += 1
    await limiter.acquire(BASE, 1)


async def test_a_ban_during_a_wait_is_reported_after_the_wait() -> None:
    limiter, vt = limiter_at(60.0 * 1000 + 57)
    await limiter.acquire(BASE, 95)
    errors: list[BaseException] = []

    async def waiter() -> None:
        try:
            await limiter.acquire(BASE, 1)
        except IpBanned as exc:
            errors.append(exc)

    async def banner() -> None:
        await vt.sleep(1)
        limiter.observe(BASE, 418, {"Retry-After": "600"})

    await vt.run(waiter, banner)
    assert len(errors) == 1


async def test_observe_adopts_higher_server_counts_only() -> None:
    limiter, vt = limiter_at(60.0 * 1000 + 30)
    await limiter.acquire(BASE, 10)
    limiter.observe(BASE, 200, {"X-MBX-USED-WEIGHT-1M": "80"})
    assert limiter.used(BASE) == 80
    limiter.observe(BASE, 200, {"x-mbx-used-weight-1m": "20"})  # lower: our reservations stand
    assert limiter.used(BASE) == 80
    with pytest.raises(RateLimited):
        await limiter.acquire(BASE, 16)
    await limiter.acquire(BASE, 15)
    limiter.observe(BASE, 200, {"X-MBX-USED-WEIGHT-1M": "not a number", "X-MBX-USED-WEIGHT": "9999"})
    assert limiter.used(BASE) == 95
    vt.now = 60.0 * 1001 + 0.5  # within the skew allowance of a boundary the reply is ambiguous
    limiter.observe(BASE, 200, {"X-MBX-USED-WEIGHT-1M": "90"})
    assert limiter.used(BASE) == 0


async def test_order_count_headers_and_order_limits() -> None:
    limiter, _ = limiter_at(
        60.0 * 1000 + 3,
        [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 20},
        ],
        max_wait_s=5,
    )
    limiter.observe(BASE, 200, {"X-MBX-ORDER-COUNT-10S": "17"})
    assert limiter.used(BASE, "ORDERS", 10) == 17
    await limiter.acquire(BASE, 1, orders=2)  # budget 19
    with pytest.raises(RateLimited, match="ORDERS limit of 20 per 10 seconds"):
        await limiter.acquire(BASE, 1, orders=1)
    await limiter.acquire(BASE, 1)  # a read does not count against the order limit


async def test_defaults_until_configured_and_configure_from_rate_limits() -> None:
    limiter, _ = limiter_at(60.0 * 1000, limits=None)
    defaults = {(d["rateLimitType"], d["limit"]) for d in limiter.limits(BASE)}
    assert defaults == {("REQUEST_WEIGHT", 6000), ("ORDERS", 100), ("ORDERS", 200000), ("RAW_REQUESTS", 61000)}
    assert len(DEFAULT_RATE_LIMITS) == 4
    await limiter.acquire(BASE, 40)
    limiter.configure(BASE, [])  # nothing usable: keep the defaults
    assert len(limiter.limits(BASE)) == 4
    limiter.configure(
        BASE,
        [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 50},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 3},
            {"rateLimitType": "SOMETHING_NEW", "interval": "MINUTE", "intervalNum": 1, "limit": 1},
            {"rateLimitType": "ORDERS", "interval": "FORTNIGHT", "intervalNum": 1, "limit": 1},
        ],
    )
    assert limiter.limits(BASE) == [
        {"rateLimitType": "REQUEST_WEIGHT", "intervalSeconds": 60, "limit": 50, "budget": 47},
        {"rateLimitType": "RAW_REQUESTS", "intervalSeconds": 300, "limit": 3, "budget": 2},
    ]
    assert limiter.used(BASE) == 40  # counts survive a reconfiguration of the same limit
    await limiter.acquire(BASE, 7)
    with pytest.raises(RateLimited, match="REQUEST_WEIGHT limit of 50 per minute"):
        await limiter.acquire(BASE, 1)


async def test_raw_request_count_limits_calls_of_weight_zero() -> None:
    limiter, _ = limiter_at(
        60.0 * 1000 + 30, [{"rateLimitType": "RAW_REQUESTS", "interval": "SECOND", "intervalNum": 10, "limit": 3}]
    )
    await limiter.acquire(BASE, 0)
    await limiter.acquire(BASE, 0)
    with pytest.raises(RateLimited, match="RAW_REQUESTS"):
        await limiter.acquire(BASE, 0)


def test_hosts_are_keyed_by_scheme_and_host() -> None:
    assert host_key("https://API.binance.com/") == host_key("https://api.binance.com") == "https://api.binance.com"
    assert host_key("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080"
    assert host_key("http://127.0.0.1:8080") != host_key("http://127.0.0.1:8081")


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError):
        RateLimiter(headroom=1.0)
