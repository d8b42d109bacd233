"""What each order type needs is checked locally, every problem of a call is reported at once, and
an incomplete mainnet order is refused before any approval is asked (issue 11, item 4)."""

from __future__ import annotations

import pytest

from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.catalog.order_types import order_type_problems
from binance_spot_mcp.catalog.schema import prepare_arguments
from binance_spot_mcp.errors import ToolInputError
from tests.e2e_support import ERAS, memory_client, result_json

CATALOG = load_catalog()


def _needs(tool: str, **values: str) -> list[str]:
    return [text for _, text in order_type_problems(tool, values, CATALOG.get(tool).params)]


def test_single_order_types_need_what_rest_api_md_lists():
    assert _needs("place_order", type="LIMIT") == ["type=LIMIT needs timeInForce", "type=LIMIT needs quantity",
                                                   "type=LIMIT needs price"]
    assert _needs("place_order", type="LIMIT", timeInForce="GTC", quantity="1", price="2") == []
    assert _needs("place_order", type="LIMIT", timeInForce="GTC", quantity="1", pegPriceType="PRIMARY_PEG") == []
    assert _needs("place_order", type="MARKET") == ["type=MARKET needs exactly one of quantity and quoteOrderQty"]
    assert _needs("place_order", type="MARKET", quantity="1", quoteOrderQty="5") == [
        "type=MARKET needs exactly one of quantity and quoteOrderQty"]
    assert _needs("place_order", type="MARKET", quoteOrderQty="5") == []
    assert _needs("place_order", type="STOP_LOSS", quantity="1") == ["type=STOP_LOSS needs stopPrice and/or trailingDelta"]
    assert _needs("place_order", type="TAKE_PROFIT", quantity="1", trailingDelta="100") == []
    assert _needs("test_order", type="STOP_LOSS_LIMIT", quantity="1", price="1", stopPrice="1") == [
        "type=STOP_LOSS_LIMIT needs timeInForce"]
    assert _needs("cancel_replace_order", type="LIMIT_MAKER", quantity="1") == ["type=LIMIT_MAKER needs price"]
    assert _needs("place_order", type="LIMIT", timeInForce="IOC", quantity="2", price="1", icebergQty="1") == [
        "an order with icebergQty needs timeInForce=GTC"]
    assert _needs("place_sor_order", type="MARKET", quantity="1") == []  # SOR takes no quoteOrderQty


def test_order_list_legs_use_their_own_parameter_names():
    assert _needs("place_order_list_oco", aboveType="LIMIT_MAKER", belowType="STOP_LOSS_LIMIT", quantity="1",
                  belowStopPrice="1") == ["aboveType=LIMIT_MAKER needs abovePrice", "belowType=STOP_LOSS_LIMIT needs belowTimeInForce",
                                          "belowType=STOP_LOSS_LIMIT needs belowPrice"]
    assert _needs("place_order_list_oto", workingType="LIMIT", workingPrice="1", workingQuantity="1",
                  pendingType="LIMIT", pendingQuantity="1") == [
        "workingType=LIMIT needs workingTimeInForce", "pendingType=LIMIT needs pendingTimeInForce",
        "pendingType=LIMIT needs pendingPrice"]
    # an OPO's pending leg takes its quantity from the working order: no pendingQuantity to ask for
    assert _needs("place_order_list_opo", workingType="LIMIT_MAKER", workingPrice="1", workingQuantity="1",
                  pendingType="MARKET") == []
    # OTOCO's optional below leg is only checked when given
    assert _needs("place_order_list_otoco", workingType="LIMIT_MAKER", workingPrice="1", workingQuantity="1",
                  pendingAboveType="TAKE_PROFIT", pendingQuantity="1") == [
        "pendingAboveType=TAKE_PROFIT needs pendingAboveStopPrice and/or pendingAboveTrailingDelta"]


def test_every_problem_of_a_call_is_reported_at_once_types_before_rules():
    with pytest.raises(ToolInputError) as info:
        prepare_arguments(CATALOG.get("place_order"), {
            "symbol": "BTCUSDT", "side": "HOLD", "type": "LIMIT", "quantity": "abc", "bogus": 1,
        })
    problems = info.value.to_dict()["problems"]
    assert [p["parameter"] for p in problems] == ["bogus", "side", "quantity", "timeInForce", "price"]
    assert problems[1]["message"].startswith("'side' must be one of BUY, SELL")
    assert info.value.message.startswith("5 problems: ")
    with pytest.raises(ToolInputError) as info:
        prepare_arguments(CATALOG.get("cancel_order"), {"symbol": "BTCUSDT", "recvWindow": "abc"})
    messages = [p["message"] for p in info.value.to_dict()["problems"]]
    assert messages[0].startswith("'recvWindow'")  # the type error first ...
    assert messages[1] == "cancel_order needs at least one of: orderId, origClientOrderId"  # ... then the rule
    with pytest.raises(ToolInputError) as info:  # one problem: no list
        prepare_arguments(CATALOG.get("get_order"), {"symbol": "BTCUSDT"})
    assert "problems" not in info.value.to_dict() and info.value.parameter == "orderId"


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ERAS)
async def test_an_incomplete_mainnet_order_is_refused_before_any_approval(world, mode):
    asked = []

    async def elicit(context, params):  # a host that can show the CONFIRM form
        asked.append(params)
        raise AssertionError("no approval should be asked for an incomplete order")

    async with memory_client(world.tools_file, mode, world.base_url, elicitation_callback=elicit) as client:
        result = await client.call_tool(
            "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "account": "live"}
        )
    body = result_json(result)
    assert result.is_error and body["error"] == "invalid_arguments"
    assert "type=LIMIT needs timeInForce" in body["message"] and "type=LIMIT needs price" in body["message"]
    assert asked == [] and world.exchange.requests == []  # nothing asked, nothing fetched, nothing sent
