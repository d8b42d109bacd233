"""Each validation branch of schema.py, pinned by its exact message and parameter: what the
model reads when it gets an argument wrong (and what it must not be told)."""

from __future__ import annotations

import pytest

from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.catalog.schema import prepare_arguments, shown
from binance_spot_mcp.errors import ToolInputError

CATALOG = load_catalog()
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "1", "price": "100"}


def _error(tool: str, args: dict) -> ToolInputError:
    with pytest.raises(ToolInputError) as caught:
        prepare_arguments(CATALOG.get(tool), args)
    return caught.value


@pytest.mark.parametrize(
    ("tool", "args", "parameter", "message"),
    [
        ("get_account", {"account": ""}, "account", "'account' must be an account name from TOOLS.md"),
        ("get_account", {"account": 7}, "account", "'account' must be an account name from TOOLS.md"),
        ("get_account", {"account": "a" * 65}, "account", "'account' must be an account name from TOOLS.md"),
        ("get_account", {"account": "a\x00b"}, "account", "'account' contains a control character"),
        ("place_order", {**ORDER, "confirm": 1}, "confirm", "'confirm' must be a string"),
        ("place_order", {**ORDER, "confirmation_token": ["x"]}, "confirmation_token", "'confirmation_token' must be a string"),
        ("place_order", {**ORDER, "confirm": "C" * 1025}, "confirm", "'confirm' is at most 1024 characters; got 1025"),
        ("place_order", {**ORDER, "confirmation_token": "t\ud800"}, "confirmation_token",
         "'confirmation_token' is not valid Unicode text (a lone surrogate?)"),
        ("get_order_book", {"symbol": "BTCUSDT", "environment": "moon"}, "environment",
         "'environment' must be one of mainnet, testnet, demo"),
        ("get_order_book", {"symbol": "BTCUSDT", "account": "a", "environment": "demo"}, "environment",
         "give either 'account' or 'environment', not both"),
        ("get_server_time", {"x": 1}, "x", "unknown parameter(s) x for get_server_time; it takes: account, environment"),
        ("get_order_book", {"symbol": "BTCUSDT", "b": 1, "a": 2}, "a",
         "unknown parameter(s) a, b for get_order_book; it takes: symbol, limit, symbolStatus, account, environment"),
        ("place_order", {"type": "MARKET", "quantity": "1"}, "symbol", "missing required parameter(s): symbol, side"),
        ("get_prevented_matches", {"symbol": "BTCUSDT"}, "preventedMatchId",
         "get_prevented_matches needs exactly one of: preventedMatchId, orderId"),
        ("get_prevented_matches", {"symbol": "BTCUSDT", "preventedMatchId": 1, "orderId": 2}, "preventedMatchId",
         "get_prevented_matches needs exactly one of: preventedMatchId, orderId"),
        ("place_order", {**ORDER, "timeInForce": "NOW"}, "timeInForce", "'timeInForce' must be one of GTC, IOC, FOK; got 'NOW'"),
        ("get_account", {"acount": "main"}, "acount",
         "unknown parameter(s) acount for get_account; it takes: omitZeroBalances, recvWindow, account"),
        ("get_order_book", {"symbol": "BTCUSDT", "limit": "5"}, "limit", "'limit' must be a whole number; got '5'"),
        ("get_order_book", {"symbol": "BTCUSDT", "limit": 2.5}, "limit", "'limit' must be a whole number; got '2.5'"),
        ("get_order", {"symbol": "BTCUSDT", "orderId": 2.0**63}, "orderId", "'orderId' is too large for Binance (at most 9223372036854775807)"),
        ("get_account", {"omitZeroBalances": "true"}, "omitZeroBalances", "'omitZeroBalances' must be true or false"),
        ("get_exchange_info", {"permissions": ["SPOT", ""]}, "permissions", "'permissions' must be a non-empty list of strings"),
        ("get_exchange_info", {"permissions": ["SPOT", 1]}, "permissions", "'permissions' must be a non-empty list of strings"),
        ("get_exchange_info", {"permissions": ["S\ud800"]}, "permissions", "'permissions' is not valid Unicode text (a lone surrogate?)"),
        ("get_ticker_price", {"symbols": "BTCUSDT"}, "symbols", "'symbols' must be a non-empty list of strings"),
        ("get_ticker_trading_day", {"symbols": ["BTCUSDT"] * 101}, "symbols", "'symbols' takes at most 100 items; got 101"),
        ("get_klines", {"symbol": "BTCUSDT", "interval": "1m", "timeZone": ""}, "timeZone", "'timeZone' must be a non-empty string"),
        ("get_klines", {"symbol": "BTCUSDT", "interval": "1m", "timeZone": 8}, "timeZone", "'timeZone' must be a non-empty string"),
        ("get_klines", {"symbol": "BTCUSDT", "interval": "1m", "timeZone": "x" * 1025}, "timeZone",
         "'timeZone' is at most 1024 characters; got 1025"),
        ("get_ticker_price", {"symbols": ["BTCUSDT", "x" * 1025]}, "symbols",
         "'symbols' must list Binance symbols, each 1-20 of A-Z, 0-9, - _ . or non-ASCII letters and digits; "
         "no spaces or invisible characters"),
    ],
)
def test_each_refusal_reads(tool, args, parameter, message):
    error = _error(tool, args)
    assert error.parameter == parameter
    assert error.message == message


def test_more_than_ten_unknown_names_are_summarised():
    error = _error("get_server_time", {f"p{i:02d}": 1 for i in range(12)})
    assert error.message.startswith("unknown parameter(s) p00, p01, p02, p03, p04, p05, p06, p07, p08, p09, ... for")
    error = _error("get_server_time", {f"p{i:02d}": 1 for i in range(10)})
    assert "p09 for get_server_time" in error.message and "..." not in error.message
    error = _error("get_server_time", {"y" * 50: 1})
    assert error.parameter == "y" * 37 + "..."


@pytest.mark.parametrize(
    ("value", "text"),
    [("short", "'short'"), ("x" * 16, repr("x" * 16)), ("x" * 17, repr("x" * 12 + "...")), (True, "'True'"),
     (2.5, "'2.5'"), (10**29, repr("100000000000...")), (10**30, "'a int'"), ({"a": 1}, "'a dict'"), (None, "'a NoneType'")],
)
def test_shown_values_are_short(value, text):
    assert shown(value) == text


def test_wire_values_of_booleans_arrays_and_confirm_arguments():
    endpoint = CATALOG.get("get_account")
    assert prepare_arguments(endpoint, {"omitZeroBalances": False}).as_dict() == {"omitZeroBalances": "false"}
    assert prepare_arguments(endpoint, {"omitZeroBalances": True}).as_dict() == {"omitZeroBalances": "true"}
    tickers = prepare_arguments(CATALOG.get("get_ticker_price"), {"symbols": ["BTCUSDT", "ETHUSDT"]}).as_dict()
    assert tickers == {"symbols": '["BTCUSDT","ETHUSDT"]'}
    permissions = prepare_arguments(CATALOG.get("get_exchange_info"), {"permissions": ["SPOT", "É"]}).as_dict()
    assert permissions == {"permissions": '["SPOT","É"]'}
    prepared = prepare_arguments(CATALOG.get("place_order"), {**ORDER, "confirm": "CONFIRM", "confirmation_token": "tok"})
    assert (prepared.confirm, prepared.confirmation_token) == ("CONFIRM", "tok")
    assert "confirm" not in prepared.as_dict() and "confirmation_token" not in prepared.as_dict()
    plain = prepare_arguments(CATALOG.get("place_order"), dict(ORDER))
    assert (plain.confirm, plain.confirmation_token, plain.environment, plain.account) == (None, None, None, None)
    public = prepare_arguments(CATALOG.get("get_order_book"), {"symbol": "BTCUSDT", "environment": "demo"})
    assert public.environment == "demo" and public.account is None
    named = prepare_arguments(CATALOG.get("get_account"), {"account": " main "})
    assert named.account == "main"


def test_limits_are_inclusive_at_their_edges():
    klines = CATALOG.get("get_klines")
    base = {"symbol": "BTCUSDT", "interval": "1m"}
    assert prepare_arguments(klines, {**base, "timeZone": "x" * 1024}).as_dict()["timeZone"] == "x" * 1024
    assert _error("get_klines", {**base, "timeZone": "8\x7f"}).message == "'timeZone' contains a control character"
    padded = " " * 24 + "1" * 40  # 64 characters: the longest decimal text read
    assert prepare_arguments(CATALOG.get("place_order"), {**ORDER, "quantity": padded}).as_dict()["quantity"] == "1" * 40
    assert _error("place_order", {**ORDER, "quantity": " " + padded}).message == "'quantity' is too long for a decimal (65 characters)"
    assert prepare_arguments(CATALOG.get("get_account"), {"account": "a" * 64}).account == "a" * 64
    assert prepare_arguments(CATALOG.get("get_ticker_trading_day"), {"symbols": ["BTCUSDT"] * 100})
    assert prepare_arguments(CATALOG.get("place_order"), {**ORDER, "quantity": "10.0"}).as_dict()["quantity"] == "10"


def test_one_sided_ranges_say_which_side():
    assert _error("place_order", {**ORDER, "strategyType": 5}).message == "'strategyType' must be at least 1000000; got 5"
    assert _error("place_order", {**ORDER, "pegOffsetValue": 101}).message == "'pegOffsetValue' must be at most 100; got 101"


def test_a_parameter_name_that_cannot_be_encoded_is_still_a_clear_error():
    error = _error("get_server_time", {"bad\ud800name": 1})
    assert error.message.startswith("unknown parameter(s) bad?name for get_server_time")


def test_decimals_of_the_wrong_type_are_refused():
    assert _error("place_order", {**ORDER, "quantity": ["1"]}).message == (
        "'quantity' must be a decimal given as a string such as \"0.01\""
    )
