"""End to end: the streams toolset through a real MCP client, against the fake's WebSocket side.

Market streams: subscribe, read with a cursor, a long poll that returns when a trade happens, the
subscription surviving a dropped connection, a ``serverShutdown`` and a refused re-subscription,
and a refused new subscription leaving nothing behind. User data stream:
``wait_for_order`` returns FILLED when a resting order is crossed, for HMAC, RSA and Ed25519
accounts, and falls back to polling ``get_order`` when the WebSocket API cannot be reached.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from tests.e2e_support import ERAS, World, memory_client, result_json, stream_environ, transcript

pytestmark = pytest.mark.anyio

BOUND_S = 10.0  # every wait in these tests is bounded by this
RESTING_PRICE = "60000.00"  # between the fake's seeded best bid (59970) and best ask (60030)
QTY = "0.001"


def _env(world: World, **extra: str) -> dict[str, str]:
    return {**stream_environ(world.fake), **extra}


async def _call(client: Any, tool: str, args: dict[str, Any]) -> Any:
    if tool == "read_stream":
        args = {"raw": True, **args}  # these tests check Binance's own keys (labelled events: test_labelled_events)
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content[0].text
    return result_json(result)


async def _market_buy(client: Any, account: str = "main") -> dict[str, Any]:
    return await _call(client, "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                               "quantity": QTY, "account": account, "newOrderRespType": "FULL"})


async def _in_thread(fn: Any, *args: Any) -> Any:
    return await anyio.to_thread.run_sync(fn, *args)


async def _read_events(client: Any, sid: str) -> dict[str, Any]:
    """The first read of ``sid`` that has events (bounded)."""
    with anyio.fail_after(BOUND_S):
        read = await _call(client, "read_stream", {"subscription": sid, "wait_seconds": 5})
        while not read["events"]:
            read = await _call(client, "read_stream", {"subscription": sid, "cursor": read["next_cursor"], "wait_seconds": 5})
    return read


@pytest.mark.parametrize("mode", ERAS)
async def test_subscribe_read_with_cursor_and_long_poll_returns_on_a_trade(world: World, mode: str) -> None:
    async with memory_client(world.tools_file, mode, base_url=world.base_url, extra_env=_env(world)) as client:
        sub = await _call(client, "subscribe_stream", {"streams": ["BTCUSDT@trade"], "environment": "testnet"})
        assert sub["streams"] == ["btcusdt@trade"] and sub["next_cursor"] == 0
        assert world.fake.streams.market_methods == ["SUBSCRIBE"]  # one message opens the stream
        sid = sub["subscription"]
        first = await _call(client, "read_stream", {"subscription": sid, "cursor": 0})
        assert first["events"] == [] and first["next_cursor"] == 0

        results: dict[str, Any] = {}

        async def long_poll() -> None:
            results["read"] = await _call(client, "read_stream", {"subscription": sid, "cursor": 0, "wait_seconds": 30})

        with anyio.fail_after(BOUND_S):
            async with anyio.create_task_group() as tg:
                tg.start_soon(long_poll)
                order = await _market_buy(client)
        read = results["read"]
        assert "timed_out" not in read
        trade = read["events"][0]["data"]
        assert trade["e"] == "trade" and trade["t"] == order["fills"][0]["tradeId"]
        assert read["next_cursor"] == read["events"][-1]["seq"] >= 1
        # the cursor moves on: nothing new after it, and a short wait says it timed out
        again = await _call(client, "read_stream", {"subscription": sid, "cursor": read["next_cursor"], "wait_seconds": 0.2})
        assert again["events"] == [] and again.get("timed_out") is True
        listed = await _call(client, "list_streams", {})
        assert [s["subscription"] for s in listed["subscriptions"]] == [sid]
        assert listed["connections"][0]["streams"] == 1
        await _call(client, "unsubscribe_stream", {"subscription": sid})
        assert await _in_thread(world.fake.streams.wait_until, lambda: world.fake.streams.market_streams() == [])
        gone = await client.call_tool("read_stream", {"subscription": sid})
        assert gone.is_error and f"subscription '{sid}' is closed: unsubscribed" in gone.content[0].text
    assert world.fake.streams.limit_violations == 0


async def test_state_streams_keep_the_latest_snapshot(world: World) -> None:
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world)) as client:
        sid = (await _call(client, "subscribe_stream", {"streams": ["btcusdt@bookTicker", "btcusdt@trade"],
                                                         "account": "main"}))["subscription"]
        # market streams named with an account use its environment, and no key
        assert (await _call(client, "list_streams", {}))["subscriptions"][0]["scope"] == "testnet market"
        for _ in range(3):
            await _market_buy(client)
        with anyio.fail_after(BOUND_S):
            read: dict[str, Any] = {"events": []}
            events: list[Any] = []
            cursor = 0
            while len(events) < 3:
                read = await _call(client, "read_stream", {"subscription": sid, "cursor": cursor, "wait_seconds": 5})
                events += read["events"]
                cursor = read["next_cursor"]
        assert [e["stream"] for e in events] == ["btcusdt@trade"] * 3
        # one snapshot of the book, not one per change
        snapshot = await _call(client, "read_stream", {"subscription": sid})
        assert list(snapshot["latest"]) == ["btcusdt@bookTicker"]
        assert float(snapshot["latest"]["btcusdt@bookTicker"]["a"]) > 0


@pytest.mark.parametrize(("fault", "reconnects"), [("drop", 1), ("server_shutdown", 1), ("refused_resubscribe", 2)])
async def test_subscription_survives_a_lost_connection(world: World, fault: str, reconnects: int) -> None:
    streams = world.fake.streams
    async with memory_client(world.tools_file, "auto", base_url=world.base_url, extra_env=_env(world)) as client:
        sid = (await _call(client, "subscribe_stream", {"streams": ["btcusdt@trade"], "environment": "testnet"}))["subscription"]
        opened = streams.connections_opened["market"]
        if fault == "refused_resubscribe":
            streams.reject_subscribes(1)  # the next connection's SUBSCRIBE is refused, the one after it accepted
            streams.drop()
        else:
            getattr(streams, fault)()
        assert await _in_thread(streams.wait_until, lambda: streams.connections_opened["market"] == opened + reconnects
                                and streams.market_streams() == ["btcusdt@trade"])
        back = await _call(client, "read_stream", {"subscription": sid, "wait_seconds": 5})  # woken by the return
        assert back["reconnected"] == 1 and "connection" not in back and back["events"] == []
        order = await _market_buy(client)
        read = await _read_events(client, sid)
        assert read["events"][-1]["data"]["t"] == order["fills"][0]["tradeId"]
        listed = await _call(client, "list_streams", {})
        assert listed["connections"][0]["reconnects"] == reconnects
        assert streams.market_methods == ["SUBSCRIBE"] * (1 + reconnects)
    assert streams.limit_violations == 0


async def test_while_binance_refuses_the_resubscribe_the_subscription_waits_and_list_streams_says_why(
    world: World,
) -> None:
    streams = world.fake.streams
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world)) as client:
        sid = (await _call(client, "subscribe_stream", {"streams": ["btcusdt@trade"], "environment": "testnet"}))["subscription"]
        streams.reject_subscribes(1000)
        streams.drop()
        # the first subscribe, then two refused ones: the second refusal came after the first delay
        assert await _in_thread(streams.wait_until, lambda: streams.market_methods.count("SUBSCRIBE") >= 3)
        down = await _call(client, "read_stream", {"subscription": sid})
        assert down["connection"].startswith("lost, reconnecting") and "reconnected" not in down
        listed = await _call(client, "list_streams", {})
        assert [s["subscription"] for s in listed["subscriptions"]] == [sid]
        connection = listed["connections"][0]
        assert connection["open"] is False
        assert "code 2): SUBSCRIBE btcusdt@trade refused: Invalid request" in connection["last_error"]
        streams.reject_subscribes(0)
        assert await _in_thread(streams.wait_until, lambda: streams.market_streams() == ["btcusdt@trade"], 15.0)
        order = await _market_buy(client)
        read = await _read_events(client, sid)
        assert read["events"][-1]["data"]["t"] == order["fills"][0]["tradeId"]
        assert "last_error" not in (await _call(client, "list_streams", {}))["connections"][0]


async def test_a_refused_subscription_gets_binances_error_and_leaves_nothing_behind(world: World) -> None:
    streams = world.fake.streams
    btc = {"streams": ["btcusdt@trade"], "environment": "testnet"}
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world)) as client:
        streams.reject_subscribes(1)
        refused = await client.call_tool("subscribe_stream", btc)
        assert refused.is_error
        error = result_json(refused)
        assert error["code"] == 2 and error["msg"].startswith("SUBSCRIBE btcusdt@trade refused: Invalid request")
        # no subscription is kept, and no connection stays open for nobody
        assert await _in_thread(streams.wait_until, lambda: streams.market_connections() == 0)
        assert (await _call(client, "list_streams", {}))["subscriptions"] == []

        kept = (await _call(client, "subscribe_stream", {"streams": ["ethusdt@trade"], "environment": "testnet"}))
        streams.reject_subscribes(1)
        assert (await client.call_tool("subscribe_stream", btc)).is_error
        listed = await _call(client, "list_streams", {})
        assert [s["subscription"] for s in listed["subscriptions"]] == [kept["subscription"]]
        assert listed["connections"][0]["streams"] == 1 and streams.market_streams() == ["ethusdt@trade"]

        # asked again, the stream is subscribed (not taken for open already) and its events flow
        sid = (await _call(client, "subscribe_stream", btc))["subscription"]
        assert streams.market_methods == ["SUBSCRIBE"] * 4 and streams.market_streams() == ["btcusdt@trade", "ethusdt@trade"]
        order = await _market_buy(client)
        read = await _read_events(client, sid)
        assert read["events"][-1]["data"]["t"] == order["fills"][0]["tradeId"]


async def test_a_flood_keeps_the_buffer_bounded_and_says_what_was_dropped(world: World) -> None:
    streams = world.fake.streams
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world)) as client:
        sid = (await _call(client, "subscribe_stream", {"streams": ["btcusdt@trade"], "environment": "testnet",
                                                         "buffer": 50}))["subscription"]
        streams.flood("btcusdt@trade", 2000)
        with anyio.fail_after(BOUND_S):
            while (await _call(client, "list_streams", {}))["subscriptions"][0]["latest_seq"] < 2000:
                # paced: back-to-back in-process calls hold the GIL that the fake's thread needs to
                # write the frames (the flood then took 3 to 10 s instead of under 1 s)
                await anyio.sleep(0.002)
        listed = (await _call(client, "list_streams", {}))["subscriptions"][0]
        assert listed["buffered"] == 50 and listed["dropped_total"] == 1950
        read = await _call(client, "read_stream", {"subscription": sid, "cursor": 0, "limit": 500})
        assert len(read["events"]) == 50 and read["events"][0]["seq"] == 1951
        assert read["dropped"] == 1950 and read["next_cursor"] == 2000


async def test_a_read_too_big_for_the_result_cap_pages_instead_of_losing_events(world: World) -> None:
    """With the result cap at 20,000 characters, 400 trades read with limit 500 do not fit: each
    read returns what fits, uncut, with next_cursor at its last event, and reading on from there
    delivers every trade once, in order."""
    streams = world.fake.streams
    env = _env(world, BINANCE_SPOT_MCP_MAX_RESULT_CHARS="20000")
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=env) as client:
        sid = (await _call(client, "subscribe_stream", {"streams": ["btcusdt@trade"], "environment": "testnet",
                                                         "buffer": 1000}))["subscription"]
        streams.flood("btcusdt@trade", 400)
        with anyio.fail_after(BOUND_S):
            while (await _call(client, "list_streams", {}))["subscriptions"][0]["latest_seq"] < 400:
                await anyio.sleep(0.002)  # paced, as in the flood test above
        seqs: list[int] = []
        cursor, reads = 0, 0
        while cursor < 400 and reads < 100:
            result = await client.call_tool("read_stream", {"subscription": sid, "cursor": cursor, "limit": 500})
            text = result.content[0].text
            assert not result.is_error and len(text) <= 20_000 and "truncated" not in text
            read = json.loads(text)
            seqs += [e["seq"] for e in read["events"]]
            assert read["next_cursor"] == read["events"][-1]["seq"]
            assert bool(read.get("more")) is (read["next_cursor"] < 400)
            cursor, reads = read["next_cursor"], reads + 1
        assert seqs == list(range(1, 401)) and reads > 1


async def test_idle_subscriptions_expire(world: World) -> None:
    streams = world.fake.streams
    env = _env(world, BINANCE_SPOT_MCP_STREAM_IDLE_SECONDS="0.3")
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=env) as client:
        sid = (await _call(client, "subscribe_stream", {"streams": ["ethusdt@ticker"], "environment": "testnet"}))["subscription"]
        assert streams.market_streams() == ["ethusdt@ticker"]
        assert await _in_thread(streams.wait_until, lambda: streams.market_connections() == 0)
        gone = await client.call_tool("read_stream", {"subscription": sid})
        assert gone.is_error and f"subscription '{sid}' is closed: expired after 0.3 s without a read" in gone.content[0].text


# -- wait_for_order ------------------------------------------------------------------------------

@pytest.mark.parametrize(("waiter", "crosser", "ended"), [("main", "rsa", False), ("rsa", "main", False),
                                                          ("ed", "main", False), ("rsa", "main", True)])
async def test_wait_for_order_returns_filled_from_the_user_data_stream(world: World, waiter: str, crosser: str,
                                                                       ended: bool) -> None:
    """With ``ended``, Binance ends the subscription while the call waits (``eventStreamTerminated``):
    the waiting call alone is enough for the account to be subscribed again."""
    streams = world.fake.streams
    api_key = {"main": world.keys.hmac_api_key, "rsa": world.keys.rsa_api_key, "ed": world.keys.ed_api_key}[waiter]
    async with memory_client(world.tools_file, "auto", base_url=world.base_url, extra_env=_env(world)) as client:
        placed = await _call(client, "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                                     "price": RESTING_PRICE, "quantity": QTY, "account": waiter})
        assert placed["status"] == "NEW"
        results: dict[str, Any] = {}

        async def wait() -> None:
            results["wait"] = await _call(client, "wait_for_order", {"account": waiter, "symbol": "BTCUSDT",
                                                                      "orderId": placed["orderId"], "wait_seconds": 30})

        def baseline_read() -> bool:
            return api_key in streams.user_subscribers() and any(
                r.path == "/api/v3/order" and r.method == "GET" and r.headers.get("x-mbx-apikey") == api_key
                for r in list(world.exchange.requests))

        with anyio.fail_after(BOUND_S):
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait)
                assert await _in_thread(streams.wait_until, baseline_read)
                if ended:
                    streams.end_user_subscriptions(api_key)
                    assert await _in_thread(streams.wait_until, lambda: streams.user_subscribers() == [api_key])
                await _call(client, "place_order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
                                                    "quantity": QTY, "account": crosser})
        answer = results["wait"]
        assert answer["reached"] is True
        # after the gap the call may catch up with one get_order at the moment the fill lands
        assert answer["source"] in (("user_data_stream", "get_order") if ended else ("user_data_stream",))
        assert answer["order"]["status"] == "FILLED" and answer["order"]["orderId"] == placed["orderId"]
        assert answer["order"]["executedQty"] == "0.00100000"
        text = transcript([answer])
        assert not any(secret in text for secret in world.keys.sensitive())
    assert streams.limit_violations == 0


async def test_wait_for_order_by_client_id_answers_at_once_when_already_filled(world: World) -> None:
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world)) as client:
        order = await _market_buy(client)
        answer = await _call(client, "wait_for_order", {"symbol": "BTCUSDT", "origClientOrderId": order["clientOrderId"]})
        assert answer["reached"] is True and answer["source"] == "get_order"
        assert answer["order"]["status"] == "FILLED"


async def test_wait_for_order_falls_back_to_polling_without_the_websocket_api(world: World) -> None:
    env = _env(world, BINANCE_SPOT_MCP_TESTNET_WS_API_URL="ws://127.0.0.1:9/ws-api/v3")  # nothing listens there
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=env) as client:
        placed = await _call(client, "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                                     "price": RESTING_PRICE, "quantity": QTY})
        results: dict[str, Any] = {}

        async def wait() -> None:
            results["wait"] = await _call(client, "wait_for_order", {"symbol": "BTCUSDT", "orderId": placed["orderId"],
                                                                      "until": "CHANGE", "wait_seconds": 30})

        def baseline_read() -> bool:
            return len([r for r in list(world.exchange.requests) if r.path == "/api/v3/order" and r.method == "GET"]) >= 1

        with anyio.fail_after(BOUND_S + 10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait)
                assert await _in_thread(world.fake.streams.wait_until, baseline_read, 15.0)
                await _call(client, "cancel_order", {"symbol": "BTCUSDT", "orderId": placed["orderId"]})
        answer = results["wait"]
        assert answer["reached"] is True and answer["source"] == "rest_polling"
        assert answer["order"]["status"] == "CANCELED" and "stream_unavailable" in answer


async def test_wait_for_order_gives_up_at_the_deadline_and_says_so(world: World) -> None:
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world)) as client:
        placed = await _call(client, "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                                     "price": RESTING_PRICE, "quantity": QTY})
        answer = await _call(client, "wait_for_order", {"symbol": "BTCUSDT", "orderId": placed["orderId"], "wait_seconds": 0.3})
        assert answer["reached"] is False and answer["order"]["status"] == "NEW"
        assert "wait_for_order again" in answer["hint"]
        bad = await client.call_tool("wait_for_order", {"symbol": "BTCUSDT", "orderId": placed["orderId"], "wait_seconds": 51})
        assert bad.is_error and json.loads(bad.content[0].text)["parameter"] == "wait_seconds"


async def test_account_events_flow_again_after_the_websocket_api_drops(world: World, caplog: Any) -> None:
    streams = world.fake.streams
    caplog.set_level("DEBUG")
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world)) as client:
        sub = await _call(client, "subscribe_stream", {"account": "rsa", "streams": ["executionReport"]})
        assert sub["scope"] == "account rsa"
        listed = await _call(client, "list_streams", {})
        assert listed["connections"] == [{"user_data": world.fake.ws_api_url, "accounts": ["rsa"], "open": True,
                                          "reconnects": 0}]
        opened = streams.connections_opened["api"]
        streams.drop("api")
        assert await _in_thread(streams.wait_until, lambda: streams.connections_opened["api"] == opened + 1
                                and streams.user_subscribers() == [world.keys.rsa_api_key])
        order = await _market_buy(client, account="rsa")
        with anyio.fail_after(BOUND_S):
            read = await _call(client, "read_stream", {"subscription": sub["subscription"], "wait_seconds": 5})
            assert read["reconnected"] == 1 and "connection" not in read  # back, and some may be missing
            events = list(read["events"])
            while not any(e["data"]["X"] == "FILLED" for e in events):
                read = await _call(client, "read_stream", {"subscription": sub["subscription"],
                                                           "cursor": read["next_cursor"], "wait_seconds": 5})
                events += read["events"]
        assert {e["data"]["i"] for e in events} == {order["orderId"]}
        assert [e["data"]["x"] for e in events] == ["NEW", "TRADE"]
        await _call(client, "unsubscribe_stream", {"subscription": sub["subscription"]})
    # the API key and signatures travel on the WebSocket API: no log line may show them
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert world.keys.rsa_api_key not in logged and "signature" not in logged.lower().replace("subscribe.signature", "")


async def test_streams_over_stdio(world: World) -> None:
    from tests.e2e_support import stdio_client_for

    async with stdio_client_for(world.tools_file, "auto", base_url=world.base_url, extra_env=_env(world)) as (client, err):
        sid = (await _call(client, "subscribe_stream", {"streams": ["btcusdt@aggTrade"], "account": "main"}))["subscription"]
        order = await _market_buy(client)
        read = await _read_events(client, sid)
        assert read["events"][0]["data"]["a"] == order["fills"][0]["tradeId"]
        answer = await _call(client, "wait_for_order", {"symbol": "BTCUSDT", "orderId": order["orderId"]})
        assert answer["reached"] is True
    stderr = err.read_text()
    assert world.keys.hmac_api_key not in stderr and world.keys.hmac_secret not in stderr


async def test_a_reread_tools_file_keeps_one_user_data_subscription_per_account(world: World) -> None:
    streams = world.fake.streams
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world)) as client:
        first = await _call(client, "subscribe_stream", {"account": "main"})
        world.tools_file.write_text("<!-- edited -->\n" + world.tools_file.read_text())  # every Account is rebuilt
        second = await _call(client, "subscribe_stream", {"account": "main", "streams": ["balanceUpdate"]})
        assert first["subscription"] != second["subscription"]
        assert streams.user_subscribers() == [world.keys.hmac_api_key]
        order = await _market_buy(client)
        with anyio.fail_after(BOUND_S):
            read = await _call(client, "read_stream", {"subscription": first["subscription"], "wait_seconds": 5})
        assert read["events"][0]["data"]["i"] == order["orderId"]


async def test_a_lost_order_reply_is_settled_from_the_user_data_stream(world: World) -> None:
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world)) as client:
        await _call(client, "subscribe_stream", {"account": "main"})  # the account's events are flowing
        world.exchange.inject("drop_after", path="/api/v3/order", method="POST")
        body = await _call(client, "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": QTY,
                                                   "newClientOrderId": "lost-reply-1"})
        assert body["outcome"] == "placed, FILLED" and "user data stream" in body["note"]
        assert body["source"] == "user_data_stream" and body["confirmed_by"] == "get_order" and "stream_said" not in body
        assert body["result"]["clientOrderId"].endswith("lost-reply-1") and body["result"]["executedQty"] == "0.00100000"
    posts = [r for r in world.exchange.requests if r.path == "/api/v3/order" and r.method == "POST"]
    lookups = [r for r in world.exchange.requests if r.path == "/api/v3/order" and r.method == "GET"]
    assert len(posts) == 1  # never sent again
    assert [r.params["origClientOrderId"] for r in lookups] == ["agent-lost-reply-1"]  # the stream's word, checked once


def _forged_report(client_id: str, status: str = "FILLED") -> dict[str, Any]:
    return {"e": "executionReport", "E": 1, "s": "BTCUSDT", "c": client_id, "S": "BUY", "o": "MARKET", "x": "TRADE",
            "X": status, "i": 424242, "q": QTY, "z": QTY, "Z": "60.03000000", "T": 1}


async def _forge_and_see(world: World, client: Any, sid: str, event: dict[str, Any], after: int = 0) -> int:
    """Forge ``event`` on main's user data stream; returns the cursor once ``sid`` has read it."""
    world.fake.streams.forge_user_event(world.keys.hmac_api_key, event)
    cursor = after
    with anyio.fail_after(BOUND_S):
        while True:
            read = await _call(client, "read_stream", {"subscription": sid, "cursor": cursor, "wait_seconds": 5})
            cursor = read["next_cursor"]
            if any(e["data"].get("c") == event["c"] and e["data"].get("i") == event["i"] for e in read["events"]):
                return cursor


async def test_a_forged_order_event_cannot_settle_a_lost_reply(world: World) -> None:
    """The order was never placed (503 before executing), yet a forged executionReport says FILLED under
    its client id: get_order says 'no such order', so the outcome is UNKNOWN, neither FILLED nor 'not placed'."""
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world)) as client:
        sid = (await _call(client, "subscribe_stream", {"account": "main"}))["subscription"]
        await _forge_and_see(world, client, sid, _forged_report("agent-forged-1"))
        world.exchange.inject("error_before", path="/api/v3/order", method="POST", status=503)
        result = await client.call_tool("place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                        "quantity": QTY, "newClientOrderId": "forged-1"})
    body = result_json(result)
    assert result.is_error and body["error"] == "order_outcome", body
    assert body["message"].startswith("Outcome: UNKNOWN") and "not placed" not in body["message"], body
    assert "FILLED" in body["message"] and "Do not repeat" in body["hint"]
    lookups = [r for r in world.exchange.requests if r.path == "/api/v3/order" and r.method == "GET"]
    assert [r.params["origClientOrderId"] for r in lookups] == ["agent-forged-1"]
    post = world.exchange.requests_to("/api/v3/order", "POST")[-1]
    assert "newClientOrderId=agent-forged-1" in post.query + post.body  # sent once, under the forged event's id


async def test_a_forged_fill_of_a_resting_order_is_overruled_by_get_order(world: World) -> None:
    """A resting order (NEW) and a forged FILLED event for its client id; a lost reply under that id is
    settled by get_order's NEW, and the stream's contrary word is named, not believed."""
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world)) as client:
        sid = (await _call(client, "subscribe_stream", {"account": "main"}))["subscription"]
        resting = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "price": RESTING_PRICE,
                   "quantity": QTY, "newClientOrderId": "resting-1"}
        placed = await _call(client, "place_order", resting)
        assert placed["status"] == "NEW" and placed["clientOrderId"] == "agent-resting-1"
        await _forge_and_see(world, client, sid, _forged_report("agent-resting-1"))
        world.exchange.inject("error_before", path="/api/v3/order", method="POST", status=503)
        body = await _call(client, "place_order", resting)  # its reply is lost; the id names the resting order
    assert body["outcome"] == "placed, NEW" and body["result"]["orderId"] == placed["orderId"], body
    assert body["result"]["executedQty"] == "0.00000000"
    assert body["confirmed_by"] == "get_order" and body["stream_said"] == "placed, FILLED"
