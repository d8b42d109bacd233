"""``wait_for_order`` believes REST, not the stream, about where an order stands (issue 22).

* an executionReport that says FILLED is checked with ``get_order`` before it is reported; a
  forged one (REST says NEW) is not reported as filled (finding 12);
* ``until=FILLED`` is not reached by a partial fill (an unpinned rule);
* an event whose fields are lists or objects does not break the wait.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from tests.e2e_support import World, memory_client
from tests.streams.test_streams_e2e import BOUND_S, QTY, RESTING_PRICE, _call, _env, _in_thread

pytestmark = pytest.mark.anyio
WAIT_S = 3  # the waits below end at their deadline: short, and bounded by BOUND_S


def _order_reads(world: World, api_key: str) -> int:
    return sum(1 for r in list(world.exchange.requests)
               if r.path == "/api/v3/order" and r.method == "GET" and r.headers.get("x-mbx-apikey") == api_key)


async def _waiting(world: World, client: Any, order_id: int, during: Any) -> dict[str, Any]:
    """wait_for_order on ``order_id`` (main); ``during`` runs once its baseline get_order is done
    and its events flow."""
    streams, api_key = world.fake.streams, world.keys.hmac_api_key
    results: dict[str, Any] = {}

    async def wait() -> None:
        results["wait"] = await _call(client, "wait_for_order", {"account": "main", "symbol": "BTCUSDT",
                                                                  "orderId": order_id, "wait_seconds": WAIT_S})

    with anyio.fail_after(BOUND_S):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            assert await _in_thread(streams.wait_until, lambda: api_key in streams.user_subscribers()
                                    and _order_reads(world, api_key) >= 1)
            await during()
    return results["wait"]


async def _resting_buy(client: Any, qty: str) -> dict[str, Any]:
    placed = await _call(client, "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                                 "price": RESTING_PRICE, "quantity": qty, "account": "main"})
    assert placed["status"] == "NEW"
    return placed


async def test_a_forged_filled_event_is_checked_with_get_order_and_not_believed(world: World) -> None:
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world)) as client:
        placed = await _resting_buy(client, QTY)

        async def forge() -> None:
            world.fake.streams.forge_user_event(world.keys.hmac_api_key, {
                "e": "executionReport", "s": "BTCUSDT", "i": placed["orderId"], "c": placed["clientOrderId"],
                "S": "BUY", "o": "LIMIT", "X": "FILLED", "x": "TRADE", "q": QTY, "z": QTY, "p": RESTING_PRICE,
                "Z": "60.00000000", "T": 1})

        reads_before = _order_reads(world, world.keys.hmac_api_key)
        answer = await _waiting(world, client, placed["orderId"], forge)
        assert answer["reached"] is False and answer["order"]["status"] == "NEW", answer
        assert answer["order"]["executedQty"] == "0.00000000"
        assert _order_reads(world, world.keys.hmac_api_key) >= reads_before + 2  # baseline and the check
        assert "confirmed_by" not in answer


async def test_a_real_fill_is_reported_with_the_get_order_that_confirmed_it(world: World) -> None:
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world)) as client:
        placed = await _resting_buy(client, QTY)

        async def cross() -> None:
            await _call(client, "place_order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
                                                "quantity": QTY, "account": "rsa"})

        answer = await _waiting(world, client, placed["orderId"], cross)
        assert answer["reached"] is True and answer["order"]["status"] == "FILLED"
        assert answer["source"] == "user_data_stream" and answer["confirmed_by"] == "get_order"


async def test_until_filled_is_not_reached_by_a_partial_fill(world: World) -> None:
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world)) as client:
        placed = await _resting_buy(client, "0.002")

        async def cross_half() -> None:
            await _call(client, "place_order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
                                                "quantity": QTY, "account": "rsa"})

        answer = await _waiting(world, client, placed["orderId"], cross_half)
        assert answer["reached"] is False and answer["until"] == "FILLED"
        assert answer["order"]["status"] == "PARTIALLY_FILLED" and answer["order"]["executedQty"] == "0.00100000"
        assert "hint" in answer and "note" not in answer


async def test_an_event_with_odd_field_types_does_not_break_the_wait(world: World) -> None:
    async with memory_client(world.tools_file, "legacy", base_url=world.base_url, extra_env=_env(world)) as client:
        placed = await _resting_buy(client, QTY)

        async def forge() -> None:
            world.fake.streams.forge_user_event(world.keys.hmac_api_key, {
                "e": "executionReport", "s": "BTCUSDT", "i": placed["orderId"], "X": ["FILLED"], "z": {"a": 1},
                "C": ["x"], "c": placed["clientOrderId"]})

        answer = await _waiting(world, client, placed["orderId"], forge)
        assert answer["reached"] is False and answer["order"]["status"] == "NEW", answer
