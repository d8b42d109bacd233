"""Property: no sequence of orders the server accepts exceeds the operator's caps.

Hypothesis draws sequences of orders (limit buys and sells at prices near and far from the
market, market buys by quantity and by quote amount, market sells); the real server (its
``Runtime``, the same code the MCP tools run) sends them to the fake exchange under a per-order
and a daily cap. Afterwards the exposure of every order the exchange accepted is computed from
the exchange's own records -- what it executed, plus what still rests at its own limit price --
and must stay within both caps.
"""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from binance_spot_mcp.config import load_settings
from binance_spot_mcp.server import Runtime
from tests.e2e_support import loopback_environ

ORDER_CAP, DAILY_CAP = Decimal(150), Decimal(400)
RESTING = {"NEW", "PARTIALLY_FILLED"}

quantities = st.integers(min_value=2, max_value=40).map(lambda n: str(Decimal(n) / 10_000))  # 0.0002 .. 0.004 BTC
prices = st.integers(min_value=200, max_value=900).map(lambda n: str(n * 100))  # 20,000 .. 90,000 USDT
orders = st.one_of(
    st.builds(lambda side, q, p: {"side": side, "type": "LIMIT", "timeInForce": "GTC", "quantity": q, "price": p},
              st.sampled_from(["BUY", "SELL"]), quantities, prices),
    st.builds(lambda q: {"side": "BUY", "type": "MARKET", "quantity": q}, quantities),
    st.builds(lambda a: {"side": "BUY", "type": "MARKET", "quoteOrderQty": str(a)}, st.integers(min_value=10, max_value=250)),
    st.builds(lambda q: {"side": "SELL", "type": "MARKET", "quantity": q}, quantities),
)


def exposure(order: Any) -> Decimal:
    """What an accepted order can cost or fetch: executed quote, plus the rest at its limit price."""
    resting = order.orig_qty - order.executed_qty if order.status in RESTING else Decimal(0)
    return order.cum_quote + resting * order.price


async def _place_all(world: Any, environ: dict[str, str], sequence: list[dict[str, str]]) -> list[bool]:
    runtime = Runtime(settings=load_settings(tools_file=str(world.tools_file), environ=environ))
    accepted = []
    try:
        for order in sequence:
            result = await runtime.call("place_order", {"symbol": "BTCUSDT", "account": "main", **order})
            accepted.append(not result.is_error)
    finally:
        await runtime.aclose()
    return accepted


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(orders, min_size=1, max_size=8))
def test_accepted_orders_never_exceed_the_caps(world, sequence):
    exchange = world.exchange
    known = set(exchange.orders)
    with tempfile.TemporaryDirectory(prefix="journal-") as day:  # a fresh journal: a fresh day each time
        environ = {
            **loopback_environ(world.base_url, Path(day)),
            "BINANCE_SPOT_MCP_MAX_ORDER_VALUE": f"{ORDER_CAP} USDT",
            "BINANCE_SPOT_MCP_MAX_DAILY_VALUE": f"{DAILY_CAP} USDT",
        }
        accepted = anyio.run(_place_all, world, environ, sequence)

    new = [o for order_id, o in exchange.orders.items() if order_id not in known and o.account is not None]
    assert len(new) <= sum(accepted)  # the exchange never holds an order the server did not report as sent
    for order in new:
        assert exposure(order) <= ORDER_CAP, (order.type, order.side, order.price, order.orig_qty, order.cum_quote)
    assert sum((exposure(o) for o in new), Decimal(0)) <= DAILY_CAP


resting_buys = st.builds(lambda q, p: {"side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": q, "price": p},
                        quantities, st.integers(min_value=300, max_value=590).map(lambda n: str(n * 100)))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(resting_buys, min_size=2, max_size=10))
def test_orders_sent_at_the_same_time_never_exceed_the_daily_cap(world, sequence):
    """All at once, from two runtimes sharing one journal: the daily total holds however the calls
    interleave (no await may separate reading the total from recording the intent). That the
    lock also holds across processes is shown deterministically in test_guard_rails.py."""
    exchange = world.exchange
    known = set(exchange.orders)
    with tempfile.TemporaryDirectory(prefix="journal-") as day:
        environ = {**loopback_environ(world.base_url, Path(day)), "BINANCE_SPOT_MCP_MAX_DAILY_VALUE": f"{DAILY_CAP} USDT"}

        async def burst() -> None:
            runtimes = [Runtime(settings=load_settings(tools_file=str(world.tools_file), environ=environ)) for _ in range(2)]
            try:
                async with anyio.create_task_group() as group:
                    for i, order in enumerate(sequence):
                        group.start_soon(runtimes[i % 2].call, "place_order", {"symbol": "BTCUSDT", "account": "main", **order})
            finally:
                for runtime in runtimes:
                    await runtime.aclose()

        anyio.run(burst)
    new = [o for order_id, o in exchange.orders.items() if order_id not in known and o.account is not None]
    assert sum((exposure(o) for o in new), Decimal(0)) <= DAILY_CAP  # resting buys: exactly price x quantity


@pytest.mark.anyio
async def test_the_property_is_not_vacuous(world):
    """The same caps do refuse and do accept: an order over the order cap, then the daily cap."""
    environ = {**loopback_environ(world.base_url, world.tools_file.parent),
               "BINANCE_SPOT_MCP_MAX_ORDER_VALUE": f"{ORDER_CAP} USDT", "BINANCE_SPOT_MCP_MAX_DAILY_VALUE": f"{DAILY_CAP} USDT"}
    runtime = Runtime(settings=load_settings(tools_file=str(world.tools_file), environ=environ))
    order = {"symbol": "BTCUSDT", "account": "main", "side": "BUY", "type": "MARKET", "quoteOrderQty": "140"}
    try:
        assert (await runtime.call("place_order", {**order, "quoteOrderQty": "151"})).is_error
        results = [(await runtime.call("place_order", order)).is_error for _ in range(3)]
    finally:
        await runtime.aclose()
    assert results == [False, False, True]  # 140 + 140 = 280; a third would make 420 > 400
