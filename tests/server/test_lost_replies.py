"""Orders whose reply is lost: never sent twice, found by client id, and the user told what is known.
Runs against the fake exchange's fault injection (error_after, drop_after, delay, error_before)."""

from __future__ import annotations

import dataclasses

import pytest

from binance_spot_mcp.config import load_settings
from binance_spot_mcp.server import Runtime, build_server
from tests.e2e_support import ERAS, loopback_environ, result_json

pytestmark = pytest.mark.anyio

ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
FAST_LOOKUPS = (0.01, 0.02, 0.03)


def _runtime(world, **changes):
    settings = load_settings(tools_file=str(world.tools_file), environ=loopback_environ(world.base_url, world.tools_file.parent))
    changes.setdefault("outcome_lookup_delays_s", FAST_LOOKUPS)
    return Runtime(settings=dataclasses.replace(settings, **changes))


async def _place(world, mode, runtime, args=ORDER):
    from mcp import Client

    try:
        async with Client(build_server(runtime), mode=mode) as client:
            return await client.call_tool("place_order", dict(args))
    finally:
        await runtime.aclose()


def _posts(world) -> int:
    return sum(1 for r in world.exchange.requests if r.method == "POST" and r.path == "/api/v3/order")


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("kind", ["error_after", "drop_after"])
async def test_executed_order_with_a_lost_reply_is_found_not_repeated(world, mode, kind):
    world.exchange.inject(kind, path="/api/v3/order", method="POST")
    result = await _place(world, mode, _runtime(world))
    body = result_json(result)
    assert not result.is_error, body
    assert body["outcome"] == "placed, FILLED" and "NOT sent again" in body["note"]
    assert _posts(world) == 1 and len(world.exchange.orders_placed("BTCUSDT")) == 1
    assert body["result"]["clientOrderId"].startswith("agent-")


@pytest.mark.parametrize("mode", ERAS)
async def test_slow_reply_times_out_and_the_order_is_found(world, mode):
    # delay_after: the order executes at once and only the reply is late, so the look-up can never
    # race the order itself (no real-time ordering between the fake's sleep and our look-ups)
    world.exchange.inject("delay_after", path="/api/v3/order", method="POST", delay_s=3.0)
    runtime = _runtime(world, http_timeout_s=0.2, outcome_lookup_delays_s=(0.01, 0.02))
    body = result_json(await _place(world, mode, runtime))
    assert body["outcome"] == "placed, FILLED"
    assert _posts(world) == 1 and len(world.exchange.orders_placed("BTCUSDT")) == 1


@pytest.mark.parametrize("mode", ERAS)
async def test_a_5xx_that_did_not_execute_is_reported_as_not_placed(world, mode):
    world.exchange.inject("error_before", path="/api/v3/order", method="POST", status=503)
    result = await _place(world, mode, _runtime(world))
    body = result_json(result)
    assert result.is_error and body["error"] == "order_outcome"
    assert body["message"].startswith("Outcome: not placed") and "get_order" in body["hint"]
    assert _posts(world) == 1 and world.exchange.orders_placed("BTCUSDT") == []


async def test_when_lookups_fail_too_the_outcome_is_unknown(world):
    world.exchange.inject("error_after", path="/api/v3/order", method="POST")
    world.exchange.inject("error_before", path="/api/v3/order", method="GET", status=503, times=50)
    body = result_json(await _place(world, "auto", _runtime(world)))
    assert body["message"].startswith("Outcome: UNKNOWN") and "origClientOrderId=agent-" in body["hint"]
    assert _posts(world) == 1 and len(world.exchange.orders_placed("BTCUSDT")) == 1


async def test_reads_are_retried_after_a_5xx(world):
    world.exchange.inject("error_before", path="/api/v3/account", method="GET", status=503)
    runtime = _runtime(world)
    runtime.client.read_retry_delays_s = (0.01, 0.01)
    from mcp import Client

    try:
        async with Client(build_server(runtime)) as client:
            result = await client.call_tool("get_account", {})
    finally:
        await runtime.aclose()
    assert not result.is_error
    assert [r.status for r in world.exchange.requests if r.path == "/api/v3/account"] == [503, 200]
