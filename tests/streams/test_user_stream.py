"""The user data stream when the WebSocket API misbehaves, and accounts that share one; end to end
against the fake unless said otherwise.

* ``wait_for_order`` keeps to its ``wait_seconds`` when the WebSocket API stops answering, and
  gives up a last look-up that is too slow; after a gap in the events it looks the order up;
* account entries with the same API key share one subscription; a second key of an already
  subscribed Binance account is refused (-2035) with the reason, and ``wait_for_order`` polls;
* when Binance ends a subscription (``eventStreamTerminated``) while someone listens, the account
  is subscribed again and its events flow, with readers told that some may be missing.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from binance_spot_mcp.config import load_settings
from binance_spot_mcp.server import Runtime
from binance_spot_mcp.streams.user import OrderWatch
from tests.e2e_support import World, loopback_environ, memory_client, random_token, result_json
from tests.streams.test_streams_e2e import BOUND_S, QTY, RESTING_PRICE, _call, _env, _in_thread, _market_buy

pytestmark = pytest.mark.anyio

SHORT_WAIT_S = 2.0
ALLOWANCE_S = 3.0  # generous: the last get_order look-up on a loaded machine
STALL_S = 8.0  # longer than a short wait plus its allowance, shorter than the client's 20 s keepalive


def _add_entry(world: World, name: str, api_key: str, secret: str) -> None:
    """Another HMAC account entry in TOOLS.md (testnet, at the fake)."""
    entry = f"\n### {name}\n- API Key: {api_key}\n- Secret: {secret}\n- Environment: testnet\n- Base URL: {world.base_url}\n"
    world.tools_file.write_text(world.tools_file.read_text() + entry)


async def _resting_buy(client: Any, account: str) -> dict[str, Any]:
    placed = await _call(client, "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                                 "price": RESTING_PRICE, "quantity": QTY, "account": account})
    assert placed["status"] == "NEW"
    return placed


async def _read_until_filled(client: Any, subscription: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The reads and the events of ``subscription`` until an executionReport says FILLED."""
    reads: list[dict[str, Any]] = []
    with anyio.fail_after(BOUND_S):
        while not any(e["data"].get("X") == "FILLED" for r in reads for e in r["events"]):
            cursor = reads[-1]["next_cursor"] if reads else 0
            reads.append(await _call(client, "read_stream", {"subscription": subscription, "cursor": cursor,
                                                             "wait_seconds": 5}))
    return reads, [e for r in reads for e in r["events"]]


async def test_wait_for_order_keeps_to_its_wait_when_the_websocket_api_stalls(world: World) -> None:
    streams = world.fake.streams
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world)) as client:
        await _call(client, "subscribe_stream", {"account": "main"})  # the WebSocket API connection is open
        orders = {name: await _resting_buy(client, name) for name in ("rsa", "ed")}
        streams.stall(STALL_S, "api")  # it reads nothing more, so the subscribe requests go unanswered
        answers: dict[str, Any] = {}
        took: dict[str, float] = {}

        async def wait(name: str) -> None:
            started = time.monotonic()
            answers[name] = await _call(client, "wait_for_order", {"account": name, "symbol": "BTCUSDT",
                                                                   "orderId": orders[name]["orderId"],
                                                                   "wait_seconds": SHORT_WAIT_S})
            took[name] = time.monotonic() - started

        with anyio.fail_after(STALL_S * 4):  # the old code took 10 s for one, 20 s for the other
            async with anyio.create_task_group() as tg:  # two at once: neither queues behind the other
                for name in orders:
                    tg.start_soon(wait, name)
    for name, answer in answers.items():
        assert took[name] < SHORT_WAIT_S + ALLOWANCE_S, (name, took[name])
        assert answer["reached"] is False and answer["order"]["status"] == "NEW"
        assert answer["source"] == "rest_polling" and "not ready within" in answer["stream_unavailable"]


async def test_a_slow_last_look_up_ends_the_wait_after_the_allowance(world: World) -> None:
    """The get_order after the deadline is given up ``final_check_s`` past it; the call says where it stood."""
    streams, hmac_key = world.fake.streams, world.keys.hmac_api_key
    allowance_s, slow_s = 0.5, 5.0

    def short_allowance(runtime: Any) -> None:
        runtime.stream_tools.final_check_s = allowance_s

    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world),
                             on_runtime=short_allowance) as client:
        placed = await _resting_buy(client, "main")
        results: dict[str, Any] = {}

        async def wait() -> None:
            started = time.monotonic()
            results["wait"] = await _call(client, "wait_for_order", {"symbol": "BTCUSDT", "orderId": placed["orderId"],
                                                                      "wait_seconds": SHORT_WAIT_S})
            results["took"] = time.monotonic() - started

        def baseline_read() -> bool:
            return hmac_key in streams.user_subscribers() and len(world.exchange.requests_to("/api/v3/order", "GET")) == 1

        with anyio.fail_after(BOUND_S):
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait)
                assert await _in_thread(streams.wait_until, baseline_read)
                world.exchange.inject("delay", path="/api/v3/order", method="GET", delay_s=slow_s)  # the last look-up
    assert results["took"] < SHORT_WAIT_S + allowance_s + ALLOWANCE_S  # not SHORT_WAIT_S + slow_s
    answer = results["wait"]
    assert answer["reached"] is False and answer["order"]["status"] == "NEW" and "hint" in answer


async def test_after_a_gap_in_the_events_wait_for_order_looks_the_order_up(world: World) -> None:
    """Not end to end: events that fell into a gap never arrive, so one look-up must catch up."""
    runtime = Runtime(settings=load_settings(tools_file=str(world.tools_file),
                                             environ=loopback_environ(world.base_url, world.tools_file.parent)))
    tools, looked_up = runtime.stream_tools, []

    async def look_up(*args: Any) -> dict[str, Any]:
        looked_up.append(args)
        return {"orderId": 7, "status": "FILLED", "executedQty": "0.001"}

    tools._look_up = look_up  # type: ignore[method-assign]
    tools.hub.user_ready = lambda account: True  # type: ignore[method-assign]
    watch = OrderWatch("BTCUSDT", 7, None, missed=True)
    baseline = {"orderId": 7, "status": "NEW", "executedQty": "0"}
    try:
        with anyio.fail_after(1.0):  # no event comes: only the look-up can end the wait this soon
            order, source, done = await tools._follow(runtime.accounts.resolve("main"), watch, "BTCUSDT", baseline,
                                                      "FILLED", time.monotonic() + 30)
    finally:
        await runtime.aclose()
    assert done is True and source == "get_order" and order["status"] == "FILLED"
    assert len(looked_up) == 1 and watch.missed is False


async def test_account_entries_with_one_api_key_share_one_subscription(world: World) -> None:
    streams = world.fake.streams
    _add_entry(world, "main2", world.keys.hmac_api_key, world.keys.hmac_secret)
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world)) as client:
        first = await _call(client, "subscribe_stream", {"account": "main", "streams": ["executionReport"]})
        second = await _call(client, "subscribe_stream", {"account": "main2", "streams": ["executionReport"]})
        assert streams.user_subscribers() == [world.keys.hmac_api_key]  # one subscription on the connection
        listed = await _call(client, "list_streams", {})
        assert listed["connections"][0]["accounts"] == ["main", "main2"]
        order = await _market_buy(client, account="main2")
        for sub in (first, second):
            _, events = await _read_until_filled(client, sub["subscription"])
            assert {e["data"]["i"] for e in events} == {order["orderId"]}


async def test_a_second_key_of_a_subscribed_binance_account_is_refused_with_its_reason(world: World) -> None:
    twin_key, twin_secret = random_token(), random_token()
    world.exchange.add_account(twin_key, hmac_secret=twin_secret,
                               account=world.exchange.account_for(world.keys.hmac_api_key))
    _add_entry(world, "twin", twin_key, twin_secret)
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world)) as client:
        await _call(client, "subscribe_stream", {"account": "main"})
        refused = await client.call_tool("subscribe_stream", {"account": "twin"})
        assert refused.is_error
        error = result_json(refused)
        assert error["code"] == -2035
        assert "same Binance account" in error["msg"] and "already subscribed here: main)" in error["msg"]
        assert "wait_for_order still works" in error["hint"]

        placed = await _resting_buy(client, "twin")
        results: dict[str, Any] = {}

        async def wait() -> None:
            results["wait"] = await _call(client, "wait_for_order", {"account": "twin", "symbol": "BTCUSDT",
                                                                      "orderId": placed["orderId"], "until": "CHANGE",
                                                                      "wait_seconds": 30})

        def looked_up() -> bool:
            return any(r.path == "/api/v3/order" and r.method == "GET" and r.headers.get("x-mbx-apikey") == twin_key
                       for r in list(world.exchange.requests))

        with anyio.fail_after(BOUND_S + 10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait)
                assert await _in_thread(world.fake.streams.wait_until, looked_up, 15.0)
                await _call(client, "cancel_order", {"symbol": "BTCUSDT", "orderId": placed["orderId"], "account": "twin"})
    answer = results["wait"]
    assert answer["reached"] is True and answer["source"] == "rest_polling"
    assert answer["order"]["status"] == "CANCELED" and "-2035" in answer["stream_unavailable"]


async def test_account_events_flow_again_after_binance_ends_the_subscription(world: World) -> None:
    streams, rsa_key = world.fake.streams, world.keys.rsa_api_key
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world)) as client:
        sub = await _call(client, "subscribe_stream", {"account": "rsa", "streams": ["executionReport"]})
        streams.end_user_subscriptions(rsa_key)
        assert streams.user_subscribers() == []
        assert await _in_thread(streams.wait_until, lambda: streams.user_subscribers() == [rsa_key])
        order = await _market_buy(client, account="rsa")
        reads, events = await _read_until_filled(client, sub["subscription"])
        assert reads[0]["reconnected"] == 1 and "connection" not in reads[0]  # back, and some may be missing
        assert {e["data"]["i"] for e in events} == {order["orderId"]}
        listed = await _call(client, "list_streams", {})
        assert listed["connections"][0]["accounts"] == ["rsa"] and listed["connections"][0]["reconnects"] == 0
