"""An order whose outcome stayed unknown after the look-ups counts toward the daily cap (issue 22):
the rule is "counts unless known not placed", here through the real send path and fault injection."""

from __future__ import annotations

import dataclasses

import pytest
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.server import Runtime, build_server
from mcp import Client

from tests.e2e_support import loopback_environ, result_json
from tests.guard.test_guard_rails import SMALL_BUY, refused, with_account

pytestmark = pytest.mark.anyio


async def test_an_order_whose_outcome_stayed_unknown_counts_toward_the_daily_cap(world):
    with_account(world, "daily", "Max Daily Value: 100 USDT")
    settings = load_settings(tools_file=str(world.tools_file), environ=loopback_environ(world.base_url, world.tools_file.parent))
    runtime = Runtime(settings=dataclasses.replace(settings, outcome_lookup_delays_s=(0.01, 0.02)))
    world.exchange.inject("error_after", path="/api/v3/order", method="POST")
    world.exchange.inject("error_before", path="/api/v3/order", method="GET", status=503, times=50)
    try:
        async with Client(build_server(runtime)) as client:
            lost = result_json(await client.call_tool("place_order", {**SMALL_BUY, "account": "daily"}))
            assert lost["message"].startswith("Outcome: UNKNOWN"), lost
            body = refused(await client.call_tool("place_order", {**SMALL_BUY, "account": "daily"}), "max daily value")
    finally:
        await runtime.aclose()
    assert body["spent_24h"] == "54" and len(world.exchange.orders_placed("BTCUSDT")) == 1
