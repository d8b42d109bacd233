"""Rate-limit rules at their edges: the longest allowed wait, a late wake-up, hostile
Retry-After values, and orders counted against the ORDERS limits."""

from __future__ import annotations

import httpx
import pytest

from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.exchange.client import BinanceClient
from binance_spot_mcp.exchange.limits import RateLimited, RateLimiter
from binance_spot_mcp.exchange.signing import HmacSigner
from tests.e2e_support import random_token
from tests.exchange.test_limits import BASE, MINUTE_100, limiter_at

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("max_wait_s", "waits"), [(6.0, True), (5.999, False)])
async def test_the_maximum_wait_is_inclusive(max_wait_s, waits) -> None:
    limiter, vt = limiter_at(60.0 * 1000 + 55, max_wait_s=max_wait_s)
    await limiter.acquire(BASE, 95)
    if waits:
        await vt.run(lambda: limiter.acquire(BASE, 10))
        assert vt.sleeps == [pytest.approx(6.0)]
    else:
        with pytest.raises(RateLimited):
            await limiter.acquire(BASE, 10)


async def test_a_late_wake_up_re_plans_and_releases_the_old_reservation() -> None:
    now = [60.0 * 1000 + 55]
    sleeps: list[float] = []

    async def oversleep(seconds: float) -> None:  # wakes up a whole window late
        sleeps.append(seconds)
        now[0] += seconds + 64

    limiter = RateLimiter(clock=lambda: now[0], sleep=oversleep)
    limiter.configure(BASE, MINUTE_100)
    await limiter.acquire(BASE, 95)  # window 1000
    await limiter.acquire(BASE, 10)  # planned for window 1001, woke up in 1002
    counts = limiter._host(BASE).counters[0].counts  # noqa: SLF001
    assert sleeps == [pytest.approx(6.0)]
    assert counts.get(1001, 0) == 0, "the reservation for the window it missed leaked"
    assert limiter.used(BASE) == 10  # booked again in the window it was really sent in


@pytest.mark.parametrize("value", ["inf", "Infinity", "nan", "-5", "soon", "1e400"])
async def test_a_hostile_retry_after_never_blocks_a_host_forever(value) -> None:
    limiter, vt = limiter_at(60.0 * 1000 + 10)
    limiter.observe(BASE, 429, {"Retry-After": value})
    with pytest.raises(RateLimited) as caught:
        await limiter.acquire(BASE, 1)
    assert caught.value.retry_at == pytest.approx(vt.clock() + 60.0)


@pytest.mark.parametrize(("weight", "orders"), [(1, -1), (-1, 0)])
async def test_negative_costs_never_free_budget(weight, orders) -> None:
    limiter, _ = limiter_at(60.0 * 1000 + 10)
    await limiter.acquire(BASE, 90)
    with pytest.raises(ValueError):
        await limiter.acquire(BASE, weight, orders=orders)
    assert limiter.used(BASE) == 90


ORDERS_2_PER_10S = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 3},
]


async def test_orders_are_counted_against_the_orders_limit() -> None:
    limiter, _ = limiter_at(60.0 * 1000 + 1, ORDERS_2_PER_10S, max_wait_s=0.0)
    await limiter.acquire(BASE, 1, orders=1)
    await limiter.acquire(BASE, 1, orders=1)  # budget: 3 - ceil(3 * 5 %) = 2
    await limiter.acquire(BASE, 1)  # a read costs no order
    with pytest.raises(RateLimited, match="ORDERS limit of 3 per 10 seconds"):
        await limiter.acquire(BASE, 1, orders=1)
    assert limiter.used(BASE, "ORDERS", 10) == 2


async def test_the_client_counts_each_order_it_places() -> None:
    catalog = load_catalog()  # SKILL.md's Orders column: place_order places 1
    account = Account(name="t", environment="testnet", api_key=random_token(), signer=HmacSigner(random_token()))
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.method)
        return httpx.Response(200, json={"orderId": len(sent)})

    limiter = RateLimiter(max_wait_s=0.0)
    limiter.configure("http://127.0.0.1:9", ORDERS_2_PER_10S)
    client = BinanceClient(skill_version="1", transport=httpx.MockTransport(handler), limiter=limiter)
    order = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "1")]
    try:
        for _ in range(2):
            await client.call(catalog.get("place_order"), order, base_url="http://127.0.0.1:9", account=account)
        with pytest.raises(RateLimited):
            await client.call(catalog.get("place_order"), order, base_url="http://127.0.0.1:9", account=account)
    finally:
        await client.aclose()
    assert sent == ["POST", "POST"]  # the third was refused before it was sent
