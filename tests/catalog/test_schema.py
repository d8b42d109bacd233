"""Schemas and argument preparation: types, enums, ranges, rules, decimal and array encoding."""

from __future__ import annotations

from decimal import Decimal

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from binance_spot_mcp.catalog.endpoints import parse_skill
from binance_spot_mcp.catalog.schema import plain_decimal, prepare_arguments, tool_schema
from binance_spot_mcp.errors import ToolInputError
from tests.mini_skill import MINI_SKILL

CATALOG = parse_skill(MINI_SKILL)
ORDER = CATALOG.get("place_order")
DEPTH = CATALOG.get("get_order_book")


def test_schema_shape_for_signed_and_public_tools():
    schema = tool_schema(ORDER)
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["symbol", "side", "type"]
    props = schema["properties"]
    assert props["side"] == {"type": "string", "enum": ["BUY", "SELL"], "description": "BUY or SELL."}
    assert props["quantity"] == {"type": "string", "description": "Base asset amount."}  # numbers accepted too, see below
    assert props["newClientOrderId"]["maxLength"] == 36
    assert "account" in props and "environment" not in props
    public = tool_schema(DEPTH)
    assert public["properties"]["limit"] == {"type": "integer", "minimum": 1, "maximum": 5000, "description": "Depth to return."}
    assert public["properties"]["environment"]["enum"] == ["mainnet", "testnet", "demo"]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert tool_schema(CATALOG.get("get_ticker_price"))["properties"]["symbols"]["maxItems"] == 100


def test_wire_values():
    call = prepare_arguments(
        ORDER,
        {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": 1e-05, "price": "65000.10",
         "timeInForce": "GTC", "account": "main", "recvWindow": 5000},
    )
    assert call.account == "main"
    assert call.as_dict() == {
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.00001", "price": "65000.1",
        "timeInForce": "GTC", "recvWindow": "5000",
    }
    assert prepare_arguments(CATALOG.get("test_order"), {"symbol": "X", "side": "SELL", "type": "MARKET", "quantity": "1",
                             "computeCommissionRates": True}).as_dict()["computeCommissionRates"] == "true"
    ticker = prepare_arguments(CATALOG.get("get_ticker_price"), {"symbols": ["BTCUSDT", "ETHUSDT"], "environment": "testnet"})
    assert ticker.as_dict() == {"symbols": '["BTCUSDT","ETHUSDT"]'} and ticker.environment == "testnet"


@pytest.mark.parametrize(
    ("tool", "args", "parameter", "fragment"),
    [
        ("place_order", {"side": "BUY", "type": "LIMIT"}, "symbol", "missing required parameter(s): symbol"),
        ("place_order", {"symbol": "B", "side": "HOLD", "type": "LIMIT"}, "side", "must be one of BUY, SELL"),
        ("place_order", {"symbol": "B", "side": "BUY", "type": "LIMIT", "quantity": "-1"}, "quantity", "non-negative decimal"),
        ("place_order", {"symbol": "B", "side": "BUY", "type": "LIMIT", "quantity": "1,5"}, "quantity", "non-negative decimal"),
        ("place_order", {"symbol": "B", "side": "BUY", "type": "LIMIT", "quantity": True}, "quantity", "not a boolean"),
        ("place_order", {"symbol": "B", "side": "BUY", "type": "LIMIT", "recvWindow": 60001}, "recvWindow", "between 0 and 60000"),
        ("place_order", {"symbol": "B", "side": "BUY", "type": "LIMIT", "newClientOrderId": "x" * 37}, "newClientOrderId", "at most 36"),
        ("place_order", {"symbol": "B", "side": "BUY", "type": "LIMIT", "signature": "abc"}, "signature", "unknown parameter"),
        ("place_order", {"symbol": "B", "side": "BUY", "type": "LIMIT", "environment": "testnet"}, "environment", "unknown parameter"),
        ("get_order_book", {"symbol": "B", "limit": 5001}, "limit", "between 1 and 5000"),
        ("get_order_book", {"symbol": "B", "limit": 2.5}, "limit", "whole number"),
        ("get_order_book", {"symbol": "B", "account": "a", "environment": "demo"}, "environment", "not both"),
        ("get_ticker_price", {"symbol": "B", "symbols": ["C"]}, "symbol", "at most one of: symbol, symbols"),
        ("get_ticker_price", {"symbols": []}, "symbols", "non-empty list"),
        ("cancel_order", {"symbol": "B"}, "orderId", "at least one of: orderId, origClientOrderId"),
    ],
)
def test_violations_name_the_parameter_and_what_is_allowed(tool, args, parameter, fragment):
    with pytest.raises(ToolInputError) as info:
        prepare_arguments(CATALOG.get(tool), args)
    assert info.value.parameter == parameter
    assert fragment in info.value.message


@given(st.decimals(min_value=0, max_value=Decimal("1e12"), allow_nan=False, allow_infinity=False, places=8))
def test_plain_decimal_round_trips_without_exponent(value):
    text = plain_decimal(value)
    assert "e" not in text.lower() and Decimal(text) == value
    sent = prepare_arguments(ORDER, {"symbol": "B", "side": "BUY", "type": "LIMIT", "price": str(value), "quantity": "1", "timeInForce": "GTC"}).as_dict()["price"]
    assert sent == text


@given(st.floats(min_value=1e-8, max_value=1e9, allow_nan=False, allow_infinity=False))
def test_json_numbers_are_sent_as_the_number_the_caller_wrote(number):
    sent = prepare_arguments(ORDER, {"symbol": "B", "side": "BUY", "type": "LIMIT", "quantity": number, "price": "1", "timeInForce": "GTC"}).as_dict()["quantity"]
    assert "e" not in sent.lower()
    assert float(sent) == number  # no float arithmetic noise was introduced
    assert Decimal(sent) == Decimal(repr(number))  # exactly the shortest text of the JSON number


def test_string_typed_fields_carry_no_numeric_bounds():
    """JSON Schema's minimum/maximum apply to numbers only: on a string they are wrong (issue 11)."""
    from binance_spot_mcp.catalog.endpoints import load_catalog

    catalog = load_catalog()
    for endpoint in catalog.endpoints:
        for name, prop in tool_schema(endpoint)["properties"].items():
            if prop.get("type") == "string":
                assert not {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} & set(prop), (endpoint.tool, name)
    assert tool_schema(catalog.get("get_account"))["properties"]["recvWindow"] == {"type": "string"}
    with pytest.raises(ToolInputError, match="between 0 and 60000"):
        prepare_arguments(catalog.get("get_account"), {"recvWindow": "60001"})  # still checked locally
