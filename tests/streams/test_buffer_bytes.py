"""Buffers are bounded by bytes, not only by count (finding 9 of issue 22).

A subscription keeps at most ``max_bytes`` of JSON (events and snapshots); all subscriptions of a
server share one ``ByteBudget``; an update larger than a buffer is not kept; ``read_stream`` says
how many events were dropped, and why.
"""

from __future__ import annotations

import pytest

from binance_spot_mcp.results import dumps
from binance_spot_mcp.streams.buffers import MAX_BUFFER_BYTES, MAX_TOTAL_BYTES, ByteBudget, Subscription

pytestmark = pytest.mark.anyio
STREAM = "btcusdt@trade"


def _event(n: int, pad: int) -> dict[str, object]:
    return {"e": "trade", "t": n, "pad": "x" * pad}


def _held(sub: Subscription) -> int:
    return sum(len(dumps(data)) for _, _, data in sub.ring) + sum(len(dumps(d)) for _, d in sub.states.values())


def test_the_caps_bound_the_memory_of_every_buffer_together() -> None:
    assert MAX_BUFFER_BYTES <= 2 * 2**20 and MAX_TOTAL_BYTES <= 64 * 2**20
    assert MAX_TOTAL_BYTES >= MAX_BUFFER_BYTES


async def test_a_buffer_keeps_at_most_its_bytes_and_says_what_it_dropped() -> None:
    sub = Subscription("s1", (STREAM,), "testnet", capacity=1000, max_bytes=50_000)
    for n in range(100):
        sub.push(STREAM, _event(n, 2_000))
        assert sub.bytes <= 50_000 and sub.bytes == _held(sub)
    assert 0 < len(sub.ring) < 30
    read = await sub.read(0, wait_s=0, limit=500)
    assert read["events"][-1]["data"]["t"] == 99 and len(read["events"]) == len(sub.ring)
    assert read["dropped"] == 100 - len(sub.ring)
    assert "50000 bytes" in read["dropped_reason"] and "1000 events" in read["dropped_reason"]
    assert sub.describe(0.0)["buffered_bytes"] == sub.bytes


async def test_an_update_larger_than_the_buffer_is_not_kept_and_is_reported() -> None:
    sub = Subscription("s1", (STREAM, "btcusdt@depth20"), "testnet", max_bytes=10_000)
    sub.push(STREAM, _event(1, 10))
    sub.push(STREAM, _event(2, 20_000))
    sub.push("btcusdt@depth20", {"bids": ["x" * 20_000]})
    assert [data["t"] for _, _, data in sub.ring] == [1] and sub.states == {}
    read = await sub.read(0, wait_s=0, limit=50)
    assert read["dropped_too_large"] == 2 and "10000 bytes" in read["dropped_reason"]
    again = await sub.read(read["next_cursor"], wait_s=0, limit=50)
    assert "dropped_too_large" not in again and "dropped_reason" not in again


async def test_all_buffers_share_one_budget() -> None:
    budget = ByteBudget(30_000)
    subs = [Subscription(f"s{i}", (STREAM,), "testnet", capacity=1000, max_bytes=25_000, budget=budget)
            for i in range(3)]
    for n in range(60):
        for sub in subs:
            sub.push(STREAM, _event(n, 1_000))
            assert budget.used <= 30_000
    assert budget.used == sum(sub.bytes for sub in subs)
    # every subscription still holds its newest event, and says it dropped the rest
    for sub in subs:
        read = await sub.read(0, wait_s=0, limit=500)
        assert read["events"][-1]["data"]["t"] == 59 and read["dropped"] > 0
        assert "30000 bytes for all subscriptions" in read["dropped_reason"]
    subs[0].close("unsubscribed")
    assert budget.used == subs[1].bytes + subs[2].bytes


async def test_a_snapshot_replaces_its_bytes() -> None:
    budget = ByteBudget(100_000)
    sub = Subscription("s1", ("btcusdt@bookTicker",), "testnet", budget=budget)
    for n in range(50):
        sub.push("btcusdt@bookTicker", {"b": str(n), "pad": "y" * 1_000})
    assert sub.bytes == _held(sub) == budget.used < 2_000


async def test_when_the_budget_is_full_the_biggest_buffer_gives_way_first() -> None:
    """A subscription that filled its share earlier does not keep a newcomer from the budget: the
    oldest events of whichever holds the most go first, so both end up with about half."""
    budget = ByteBudget(30_000)
    early = Subscription("s1", (STREAM,), "testnet", capacity=1000, max_bytes=30_000, budget=budget)
    late = Subscription("s2", (STREAM,), "testnet", capacity=1000, max_bytes=30_000, budget=budget)
    for n in range(25):
        early.push(STREAM, _event(n, 1_000))
    for n in range(100):
        late.push(STREAM, _event(n, 1_000))
    assert budget.used <= 30_000
    assert abs(early.bytes - late.bytes) <= 2_100, (early.bytes, late.bytes)
    assert early.dropped_total > 0 and late.ring[-1][2]["t"] == 99
