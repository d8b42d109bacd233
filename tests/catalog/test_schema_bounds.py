"""Schema edges that SKILL.md's tables allow but today's parameters do not all use: string length
bounds (exactly at the bound is fine, one past it is refused, length is judged before content),
bounds rendered as exact JSON numbers, and the parameter each refusal names (the model is told
which argument to fix). Also the account argument, client ids and unknown names as users see them.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from binance_spot_mcp.catalog.endpoints import Constraints, Param, ParamType, parse_skill
from binance_spot_mcp.catalog.schema import optional_string, prepare_arguments, to_wire, tool_schema
from binance_spot_mcp.errors import ToolInputError
from tests.mini_skill import MINI_SKILL

CATALOG = parse_skill(MINI_SKILL)
ORDER = CATALOG.get("place_order")
LIMIT_ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "1",
               "price": "2"}
NOTE = Param("note", ParamType.STRING, "A note.", Constraints(min_length=2, max_length=5))
STEP = Param("step", ParamType.INTEGER, "A step.", Constraints(minimum=Decimal("0.5"), maximum=Decimal(2**53 + 1)))


def _refusal(param: Param, raw) -> ToolInputError:
    with pytest.raises(ToolInputError) as info:
        to_wire(param, raw)
    return info.value


# --- string length bounds ---------------------------------------------------------------------


def test_string_length_bounds_are_advertised():
    endpoint = dataclasses.replace(ORDER, params={**ORDER.params, "note": NOTE, "step": STEP})
    props = tool_schema(endpoint)["properties"]
    assert props["note"] == {"type": "string", "minLength": 2, "maxLength": 5, "description": "A note."}
    # bounds are JSON numbers as written: a fraction stays a fraction, a big whole number stays exact
    assert props["step"] == {"type": "integer", "minimum": 0.5, "maximum": 2**53 + 1, "description": "A step."}


def test_a_string_exactly_at_either_length_bound_is_accepted():
    assert to_wire(NOTE, "ab") == "ab"
    assert to_wire(NOTE, "abcde") == "abcde"


def test_one_character_past_a_length_bound_is_refused_with_the_bound():
    short = _refusal(NOTE, "a")
    assert short.message == "'note' is at least 2 characters; got 1" and short.parameter == "note"
    long = _refusal(NOTE, "abcdef")
    assert long.message == "'note' is at most 5 characters; got 6" and long.parameter == "note"


def test_length_is_judged_before_content():
    # a value too long is refused for its length, whatever it holds (nothing else reads it)
    assert _refusal(NOTE, "ab\x00def").message == "'note' is at most 5 characters; got 6"
    assert _refusal(NOTE, "a\x00").message == "'note' contains a control character"


# --- the parameter named by each refusal ------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["1"], "'quantity' must be a decimal given as a string such as \"0.01\""),
        ({"v": "1"}, "'quantity' must be a decimal given as a string such as \"0.01\""),
        ("1" * 65, "'quantity' is too long for a decimal (65 characters)"),
        ("12abc", "'quantity' must be a non-negative decimal such as \"0.001\"; got '12abc'"),
        ("1e5x7777777777777", "'quantity' must be a non-negative decimal such as \"0.001\"; got '1e5x77777777...'"),
    ],
)
def test_a_bad_decimal_is_refused_naming_its_parameter_and_value(value, message):
    with pytest.raises(ToolInputError) as info:
        prepare_arguments(ORDER, {**LIMIT_ORDER, "quantity": value})
    assert info.value.parameter == "quantity" and info.value.message == message


@pytest.mark.parametrize("value", [1e19, -1e19, 2**63, -(2**63) - 1, 10**400])
def test_a_number_too_large_for_a_long_is_refused_naming_its_parameter(value):
    with pytest.raises(ToolInputError) as info:
        prepare_arguments(CATALOG.get("get_order_book"), {"symbol": "BTCUSDT", "limit": value})
    assert info.value.parameter == "limit"
    assert info.value.message == "'limit' is too large for Binance (at most 9223372036854775807)"


# --- account, client ids, unknown names -------------------------------------------------------


def test_the_account_argument_is_stripped_and_must_be_plain_text():
    assert prepare_arguments(ORDER, {**LIMIT_ORDER, "account": " live "}).account == "live"
    with pytest.raises(ToolInputError) as info:
        prepare_arguments(ORDER, {**LIMIT_ORDER, "account": "li\nve"})
    assert info.value.parameter == "account" and info.value.message == "'account' contains a control character"


def test_a_well_formed_client_order_id_is_sent_and_a_malformed_one_refused():
    assert prepare_arguments(ORDER, {**LIMIT_ORDER, "newClientOrderId": "my.order:1/a_b-c"}).as_dict()[
        "newClientOrderId"] == "my.order:1/a_b-c"
    for bad in (12345, "has space", "x" * 37, "\ud800"):
        with pytest.raises(ToolInputError) as info:
            prepare_arguments(ORDER, {**LIMIT_ORDER, "newClientOrderId": bad})
        assert info.value.parameter == "newClientOrderId" and "Binance's rule" in info.value.message
    # the name Binance uses in its replies is held to the same rule before anything reads it
    with pytest.raises(ToolInputError) as info:
        prepare_arguments(ORDER, {**LIMIT_ORDER, "clientOrderId": "\ud800" * 100})
    assert info.value.parameter == "clientOrderId" and "Binance's rule" in info.value.message


def _unknown_message(count: int) -> str:
    with pytest.raises(ToolInputError) as info:
        prepare_arguments(ORDER, {**LIMIT_ORDER, **{f"extra{i:02d}": "1" for i in range(count)}})
    return info.value.message


def _unknown_named(name: str) -> str:
    with pytest.raises(ToolInputError) as info:
        prepare_arguments(ORDER, {**LIMIT_ORDER, name: "1"})
    assert "unknown parameter(s)" in info.value.message
    return info.value.parameter


def test_unknown_names_are_shown_whole_up_to_forty_characters_then_cut():
    assert _unknown_named("n" * 40) == "n" * 40
    assert _unknown_named("n" * 41) == "n" * 37 + "..."
    assert _unknown_named("bad\ud800name") == "bad?name"  # a lone surrogate cannot reach the output


def test_at_most_ten_unknown_names_are_listed():
    assert "extra09 for place_order" in _unknown_message(10)
    names = {f"extra{i:02d}": "1" for i in range(11)}
    with pytest.raises(ToolInputError) as info:
        prepare_arguments(ORDER, {**LIMIT_ORDER, **names})
    message = info.value.message
    assert "unknown parameter(s) extra00, extra01, extra02, extra03, extra04, extra05, extra06, extra07, extra08, extra09, ... for place_order" in message
    assert "extra10" not in message and info.value.parameter == "extra00"


# --- server tools' optional text arguments ----------------------------------------------------


def test_an_optional_text_argument_is_stripped_absent_or_refused():
    assert optional_string({"account": "  live "}, "account") == "live"
    assert optional_string({}, "account") is None and optional_string({"account": None}, "account") is None
    for bad in ("", "   ", 5, ["live"], True):
        with pytest.raises(ToolInputError) as info:
            optional_string({"account": bad}, "account")
        assert info.value.parameter == "account" and info.value.message == "'account' must be a non-empty string"


# --- what the model is told -------------------------------------------------------------------


def test_several_problems_come_as_one_error_listing_each():
    with pytest.raises(ToolInputError) as info:
        prepare_arguments(ORDER, {**LIMIT_ORDER, "side": "HOLD", "quantity": "abc"})
    error = info.value
    assert error.message == (
        "2 problems: 'side' must be one of BUY, SELL; got 'HOLD'; "
        "'quantity' must be a non-negative decimal such as \"0.001\"; got 'abc'"
    )
    assert error.parameter == "side" and error.hint == "Fix all the named parameters and call the tool again."
    assert error.to_dict()["problems"] == [
        {"parameter": "side", "message": "'side' must be one of BUY, SELL; got 'HOLD'"},
        {"parameter": "quantity", "message": "'quantity' must be a non-negative decimal such as \"0.001\"; got 'abc'"},
    ]


def test_a_null_argument_counts_as_not_given():
    call = prepare_arguments(ORDER, {**LIMIT_ORDER, "newClientOrderId": None, "recvWindow": None})
    assert "newClientOrderId" not in call.as_dict() and "recvWindow" not in call.as_dict()
    with pytest.raises(ToolInputError) as info:
        prepare_arguments(ORDER, {**LIMIT_ORDER, "symbol": None})
    assert info.value.parameter == "symbol" and info.value.message == "missing required parameter(s): symbol"


def test_a_bad_account_is_reported_once_even_beside_an_environment():
    with pytest.raises(ToolInputError) as info:
        prepare_arguments(CATALOG.get("get_order_book"), {"symbol": "BTCUSDT", "account": 5, "environment": "testnet"})
    assert info.value.parameter == "account" and not info.value.problems
    assert info.value.message == "'account' must be an account name from TOOLS.md"


def test_the_chat_approval_arguments_are_advertised_only_when_asked_for():
    assert not {"confirm", "confirmation_token"} & set(tool_schema(ORDER)["properties"])  # the default: not opened
    assert {"confirm", "confirmation_token"} <= set(tool_schema(ORDER, chat_confirm=True)["properties"])
    assert "confirm" not in tool_schema(CATALOG.get("get_order_book"), chat_confirm=True)["properties"]
