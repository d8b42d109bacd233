"""Client order ids: generated, prefixed, refused when too long; and where recovery looks."""

from __future__ import annotations

import re

import pytest

from binance_spot_mcp.catalog import load_catalog
from binance_spot_mcp.errors import ToolInputError
from binance_spot_mcp.orders import client_id_param, lookup_for, verdict, with_client_id

CATALOG = load_catalog()


def test_which_endpoints_place_orders_and_which_id_they_carry():
    placing = {e.tool: client_id_param(e) for e in CATALOG.endpoints if client_id_param(e)}
    assert placing["place_order"] == placing["place_sor_order"] == placing["cancel_replace_order"] == "newClientOrderId"
    for tool in ("place_oco_deprecated", "place_order_list_oco", "place_order_list_oto", "place_order_list_otoco",
                 "place_order_list_opo", "place_order_list_opoco"):
        assert placing[tool] == "listClientOrderId"
    for tool in ("cancel_order", "amend_order_keep_priority", "test_order", "get_order", "cancel_order_list"):
        assert tool not in placing


def test_generated_and_prefixed_ids():
    order = CATALOG.get("place_order")
    params, generated = with_client_id(order, (("symbol", "BTCUSDT"),))
    assert re.fullmatch(r"agent-[A-Za-z0-9]{18}", generated) and dict(params)["newClientOrderId"] == generated
    _, other = with_client_id(order, (("symbol", "BTCUSDT"),))
    assert other != generated
    params, prefixed = with_client_id(order, (("newClientOrderId", "my-1"), ("symbol", "X")))
    assert prefixed == "agent-my-1" and params == (("newClientOrderId", "agent-my-1"), ("symbol", "X"))
    _, kept = with_client_id(order, (("newClientOrderId", "agent-abc"),))
    assert kept == "agent-abc"
    assert with_client_id(CATALOG.get("get_order"), (("symbol", "X"),)) == ((("symbol", "X"),), None)


def test_ids_too_long_after_the_prefix_are_refused():
    order = CATALOG.get("place_order")
    with_client_id(order, (("newClientOrderId", "x" * 30),))  # 6 + 30 = 36: fits
    with pytest.raises(ToolInputError, match="at most 36") as info:
        with_client_id(order, (("newClientOrderId", "x" * 31),))
    assert info.value.parameter == "newClientOrderId"
    with pytest.raises(ToolInputError):
        with_client_id(order, (("newClientOrderId", "bad id!"),))


def test_lookups_and_verdicts():
    order = CATALOG.get("place_order")
    assert lookup_for(order, (("symbol", "BTCUSDT"),), "agent-1").describe() == "get_order symbol=BTCUSDT origClientOrderId=agent-1"
    oco = CATALOG.get("place_order_list_oco")
    assert lookup_for(oco, (("symbol", "BTCUSDT"),), "agent-2").describe() == "get_order_list origClientOrderId=agent-2"
    assert verdict({"status": "FILLED"}) == "placed, FILLED"
    assert verdict({"listOrderStatus": "EXECUTING"}) == "placed, EXECUTING"


def test_verdicts_for_every_reply_shape():
    from binance_spot_mcp.orders import verdict

    assert verdict({"status": "FILLED"}) == "placed, FILLED"
    assert verdict({"listOrderStatus": "EXECUTING"}) == "placed, EXECUTING"
    assert verdict({"listStatusType": "EXEC_STARTED"}) == "placed, EXEC_STARTED"
    assert verdict({}) == "placed, status unknown"
    assert verdict([{"orderId": 1}]) == "placed"


def test_a_too_long_id_says_how_much_room_is_left():
    from binance_spot_mcp.catalog import load_catalog
    from binance_spot_mcp.errors import ToolInputError
    from binance_spot_mcp.orders import with_client_id

    order = load_catalog().get("place_order")
    with pytest.raises(ToolInputError) as caught:
        with_client_id(order, (("newClientOrderId", "x" * 40),))
    assert "(so at most 30 after the prefix)" in caught.value.message
    assert f"'agent-{'x' * 34}'" in caught.value.message  # shown cut to 40 characters
