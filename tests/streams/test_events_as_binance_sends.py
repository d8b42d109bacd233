"""The server's stream handling against what the fixed fake sends, as Binance does (issue 23, item 3):
``listStatus`` events of an order list, one ``executionReport`` per trade with its real commission,
a multi-fill order that ``wait_for_order`` follows to FILLED, and a connection that Binance closes
with a close frame at its 24-hour mark (shortened here) is followed by a new one."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import pytest

from binance_spot_mcp.streams.connection import ReconnectingSocket
from tests.e2e_support import World, memory_client, result_json, stream_environ
from tests.fake.ws_support import Trader, order, rest
from tests.fake_binance import RunningFake

pytestmark = pytest.mark.anyio
BOUND_S = 10.0


async def _call(client: Any, tool: str, args: dict[str, Any]) -> Any:
    if tool == "read_stream":
        args = {"raw": True, **args}  # these tests check Binance's own keys (labelled events: test_labelled_events)
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content[0].text
    return result_json(result)


async def _events(client: Any, sid: str, count: int) -> list[dict[str, Any]]:
    """The first ``count`` events of ``sid`` (bounded)."""
    events: list[dict[str, Any]] = []
    cursor = 0
    with anyio.fail_after(BOUND_S):
        while len(events) < count:
            read = await _call(client, "read_stream", {"subscription": sid, "cursor": cursor, "wait_seconds": 5,
                                                       "raw": True})  # Binance's own keys
            events += read["events"]
            cursor = read["next_cursor"]
    return events


def _main(world: World) -> Trader:
    return Trader(world.keys.hmac_api_key, secret=world.keys.hmac_secret)


async def test_list_status_of_an_order_list_reaches_read_stream(world: World) -> None:
    async with memory_client(world.tools_file, "auto", base_url=world.base_url,
                             extra_env=stream_environ(world.fake)) as client:
        sub = await _call(client, "subscribe_stream", {"streams": ["listStatus"], "account": "main"})
        placed = await anyio.to_thread.run_sync(lambda: rest(
            world.fake, _main(world), "POST", "/api/v3/orderList/oco", symbol="BTCUSDT", side="SELL", quantity="0.001",
            aboveType="LIMIT_MAKER", abovePrice="60010.00", belowType="STOP_LOSS_LIMIT", belowPrice="58900.00",
            belowStopPrice="59000.00", belowTimeInForce="GTC"))
        (event,) = [e["data"] for e in await _events(client, sub["subscription"], 1)]
    assert event["e"] == "listStatus" and event["g"] == placed["orderListId"] and event["l"] == "EXEC_STARTED"
    assert {o["i"] for o in event["O"]} == {o["orderId"] for o in placed["orders"]}


async def test_each_fill_reaches_read_stream_with_its_commission(world: World) -> None:
    async with memory_client(world.tools_file, "auto", base_url=world.base_url,
                             extra_env=stream_environ(world.fake)) as client:
        sub = await _call(client, "subscribe_stream", {"streams": ["executionReport"], "account": "main"})
        # 0.6 BTC takes the best ask level (0.5) and part of the next: two trades
        filled = await anyio.to_thread.run_sync(lambda: order(world.fake, _main(world), "BUY", "0.6"))
        events = [e["data"] for e in await _events(client, sub["subscription"], 3)]
    trades = [e for e in events if e["x"] == "TRADE"]
    assert [e["X"] for e in trades] == ["PARTIALLY_FILLED", "FILLED"]
    assert [(e["n"], e["N"], e["t"]) for e in trades] == [
        (f["commission"], f["commissionAsset"], f["tradeId"]) for f in filled["fills"]]
    assert sum(Decimal(e["l"]) for e in trades) == Decimal("0.6")


async def test_wait_for_order_follows_a_resting_order_through_two_fills(world: World) -> None:
    crosser = Trader(world.keys.hmac_api_key, secret=world.keys.hmac_secret)
    async with memory_client(world.tools_file, "auto", base_url=world.base_url,
                             extra_env=stream_environ(world.fake)) as client:
        placed = await _call(client, "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                     "timeInForce": "GTC", "price": "60000.00", "quantity": "0.002",
                                                     "account": "rsa"})
        results: dict[str, Any] = {}

        async def wait() -> None:
            results["wait"] = await _call(client, "wait_for_order", {"account": "rsa", "symbol": "BTCUSDT",
                                                                      "orderId": placed["orderId"], "wait_seconds": 30})

        streams = world.fake.streams
        with anyio.fail_after(BOUND_S):
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait)
                assert await anyio.to_thread.run_sync(
                    streams.wait_until, lambda: world.keys.rsa_api_key in streams.user_subscribers())
                for _ in range(2):  # a partial fill, then the rest
                    await anyio.to_thread.run_sync(lambda: order(world.fake, crosser, "SELL", "0.001"))
    answer = results["wait"]
    assert answer["reached"] is True and answer["order"]["status"] == "FILLED"
    assert answer["order"]["executedQty"] == "0.00200000"


async def test_a_close_frame_at_the_24_hour_mark_is_followed_by_a_new_connection(fake_exchange: RunningFake) -> None:
    streams = fake_exchange.streams
    streams.period_s, streams.max_age_s = 0.05, 0.3

    async def on_open() -> None:
        await socket.request({"method": "SUBSCRIBE", "params": ["btcusdt@trade"]})

    socket = ReconnectingSocket(f"{fake_exchange.stream_url}/stream", on_message=lambda m: None, on_open=on_open)
    socket.start()
    try:
        assert await anyio.to_thread.run_sync(streams.wait_until, lambda: streams.connections_opened["market"] >= 2
                                              and streams.market_streams() == ["btcusdt@trade"], BOUND_S)
        assert socket.connects >= 2
    finally:
        await socket.aclose()
