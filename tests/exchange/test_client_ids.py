"""Client order ids end to end: an id chosen without the ``agent-`` prefix is sent with it, and
every tool that names an existing order by client id still finds it, saying which id it used."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.e2e.test_e2e import _order_terms, _qty_for, _round_to
from tests.e2e_support import ERAS, memory_client, result_json

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ERAS)
async def test_an_order_placed_as_myorder1_is_found_and_cancelled_as_myorder1(world, mode):
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        terms = await _order_terms(client)
        low = Decimal(_round_to(terms["price"] * Decimal("0.9"), terms["tick"]))
        placed = result_json(await client.call_tool("place_order", {
            "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
            "quantity": _qty_for(terms, low), "price": str(low), "newClientOrderId": "myorder1",
        }))
        assert placed["clientOrderId"] == "agent-myorder1"  # the reply shows the id actually used

        found = result_json(await client.call_tool("get_order", {"symbol": "BTCUSDT", "origClientOrderId": "myorder1"}))
        assert found["clientIdUsed"] == "agent-myorder1" and "myorder1" in found["note"]
        assert found["result"]["orderId"] == placed["orderId"] and found["result"]["status"] == "NEW"

        amended = await client.call_tool("amend_order_keep_priority", {
            "symbol": "BTCUSDT", "origClientOrderId": "myorder1", "newQty": str(Decimal(placed["origQty"]) - terms["step"]),
            "newClientOrderId": "agent-myorder1",  # keep the id (Binance generates a new one otherwise)
        })
        assert not amended.is_error, amended
        assert result_json(amended)["clientIdUsed"] == "agent-myorder1"

        cancelled = result_json(await client.call_tool("cancel_order", {"symbol": "BTCUSDT", "origClientOrderId": "myorder1"}))
        assert cancelled["clientIdUsed"] == "agent-myorder1" and cancelled["result"]["status"] == "CANCELED"

        # the prefixed id works as before and needs no note
        again = result_json(await client.call_tool("get_order", {"symbol": "BTCUSDT", "origClientOrderId": "agent-myorder1"}))
        assert again["status"] == "CANCELED" and "note" not in again

        missing = await client.call_tool("get_order", {"symbol": "BTCUSDT", "origClientOrderId": "nosuch"})
        assert missing.is_error and result_json(missing)["code"] == -2013
    deletes = [r for r in world.exchange.requests if r.method == "DELETE"]
    assert len(deletes) == 1 and "origClientOrderId=agent-myorder1" in deletes[0].query


@pytest.mark.parametrize("mode", ERAS)
async def test_an_order_list_placed_as_mylist1_is_found_and_cancelled_as_mylist1(world, mode):
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        terms = await _order_terms(client)
        above = Decimal(_round_to(terms["price"] * Decimal("1.05"), terms["tick"]))
        below = Decimal(_round_to(terms["price"] * Decimal("0.95"), terms["tick"]))
        placed = result_json(await client.call_tool("place_order_list_oco", {
            "symbol": "BTCUSDT", "side": "SELL", "quantity": _qty_for(terms, below), "aboveType": "LIMIT_MAKER",
            "abovePrice": str(above), "belowType": "STOP_LOSS_LIMIT", "belowStopPrice": str(below),
            "belowPrice": str(below - terms["tick"] * 10), "belowTimeInForce": "GTC", "listClientOrderId": "mylist1",
        }))
        assert placed["listClientOrderId"] == "agent-mylist1"
        found = result_json(await client.call_tool("get_order_list", {"origClientOrderId": "mylist1"}))
        assert found["clientIdUsed"] == "agent-mylist1" and found["result"]["orderListId"] == placed["orderListId"]
        cancelled = result_json(await client.call_tool("cancel_order_list", {"symbol": "BTCUSDT", "listClientOrderId": "mylist1"}))
        assert cancelled["clientIdUsed"] == "agent-mylist1" and cancelled["result"]["listOrderStatus"] == "ALL_DONE"
