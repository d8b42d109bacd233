"""What real exchanges do, end to end through the MCP client against the fake's faults:
clock skew, lost replies of orders, flaky reads."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.e2e_support import ERAS, memory_client, result_json

pytestmark = pytest.mark.anyio

MARKET_BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}




def _order_posts(world) -> list:
    return [r for r in world.exchange.requests if r.method == "POST" and r.path == "/api/v3/order"]


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("skew_ms", [30_000, -30_000])
async def test_clock_skew_is_measured_and_the_request_retried_once(world, mode, skew_ms):
    world.exchange.clock_offset_ms = skew_ms  # Binance's clock is 30 s ahead of / behind ours
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        account = await client.call_tool("get_account", {})
        order = await client.call_tool("place_order", dict(MARKET_BUY))
        again = await client.call_tool("get_open_orders", {"symbol": "BTCUSDT"})
    assert not account.is_error, account
    assert result_json(order)["status"] == "FILLED"
    assert not again.is_error
    timestamp_errors = [r for r in world.exchange.requests if r.status == 400 and "-1021" in str(getattr(r, "response", ""))]
    assert len(timestamp_errors) == 1  # only the first signed call paid for the skew
    assert len(_order_posts(world)) == 1 and [r.path for r in world.exchange.requests].count("/api/v3/time") == 1


async def test_a_user_recv_window_above_the_maximum_is_refused_locally(world):
    async with memory_client(world.tools_file, "auto", world.base_url) as client:
        body = result_json(await client.call_tool("get_account", {"recvWindow": 60001}))
    assert body["parameter"] == "recvWindow" and "60000" in body["message"]
    assert world.exchange.requests == []


@pytest.mark.parametrize("mode", ERAS)
async def test_filter_failures_are_caught_locally_with_the_nearest_valid_values(world, mode):
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        info = result_json(await client.call_tool("get_exchange_info", {"symbol": "BTCUSDT", "account": "main"}))
        step = next(f for f in info["symbols"][0]["filters"] if f["filterType"] == "LOT_SIZE")["stepSize"]
        before = len(world.exchange.requests)
        off_step = str(Decimal("0.001") + Decimal(step) / 2)
        result = await client.call_tool("place_order", {**MARKET_BUY, "quantity": off_step})
        sent_after = [r.path for r in world.exchange.requests[before:]]
    body = result_json(result)
    assert result.is_error and body["filter"] == "LOT_SIZE" and body["parameter"] == "quantity"
    assert "->" in body["message"]
    assert "/api/v3/order" not in sent_after  # refused before sending


async def test_the_filter_switch_turns_local_checks_off(world, monkeypatch):
    from tests import e2e_support

    original = e2e_support.loopback_environ
    monkeypatch.setattr(e2e_support, "loopback_environ",
                        lambda base, state=None: {**original(base, state), "BINANCE_SPOT_MCP_LOCAL_FILTERS": "0"})
    async with memory_client(world.tools_file, "auto", world.base_url) as client:
        result = await client.call_tool("place_order", {**MARKET_BUY, "quantity": "0.0010000001"})
    body = result_json(result)
    assert body["error"] == "binance_error" and body["code"] == -1013  # the exchange's own verdict
    assert len(_order_posts(world)) == 1


async def test_a_burst_of_500_calls_never_meets_a_429(world):
    import anyio

    world.exchange.weight_limit_per_minute = 300
    results: list = []
    async with memory_client(world.tools_file, "auto", world.base_url) as client:
        await client.call_tool("get_exchange_info", {"symbol": "BTCUSDT", "account": "main"})  # learns the limit

        async def one() -> None:
            results.append(await client.call_tool("get_ticker_price", {"symbol": "BTCUSDT", "account": "main"}))

        async with anyio.create_task_group() as tg:
            for _ in range(500):
                tg.start_soon(one)
    assert world.exchange.rate_limit_hits == 0 and world.exchange.ban_hits == 0
    ok = [r for r in results if not r.is_error]
    refused = [result_json(r) for r in results if r.is_error]
    assert len(results) == 500 and ok
    assert all(body["error"] == "rate_limited" for body in refused)
    assert all("retry" in body["message"].lower() for body in refused)


@pytest.mark.parametrize(("status", "kind"), [(429, "rate_limited"), (418, "ip_banned")])
async def test_429_and_418_stop_sending_to_that_host_until_retry_after(world, status, kind):
    world.exchange.inject("error_before", path="/api/v3/account", method="GET", status=status, retry_after=90)
    async with memory_client(world.tools_file, "auto", world.base_url) as client:
        first = result_json(await client.call_tool("get_account", {}))
        sent = len(world.exchange.requests)
        second = result_json(await client.call_tool("get_ticker_price", {"symbol": "BTCUSDT", "account": "main"}))
    assert first["status"] == status and "Retry after 90 s" in first["hint"]
    assert second["error"] == kind  # refused locally: nothing more reached the host
    assert len(world.exchange.requests) == sent
