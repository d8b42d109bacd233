"""Hostile or careless arguments: each is a clear isError naming the parameter, found cheaply,
never "internal error", never an echo of the whole value."""

from __future__ import annotations

from decimal import Decimal

import pytest

import binance_spot_mcp.catalog.schema as schema
from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.catalog.schema import MAX_DECIMAL_DIGITS, plain_digits, prepare_arguments
from binance_spot_mcp.config import base_url_problem, load_settings
from binance_spot_mcp.errors import ConfigError, ToolInputError
from tests.e2e_support import memory_client, result_json

CATALOG = load_catalog()
ORDER = CATALOG.get("place_order")
LIMIT_BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "1", "price": "100"}


def _refused(tool: str, args: dict) -> ToolInputError:
    with pytest.raises(ToolInputError) as caught:
        prepare_arguments(CATALOG.get(tool), args)
    return caught.value


@pytest.mark.parametrize("text", ["1e999999999", "1E+999999999", "1e-999999999", "0.1e99999", "9" * 41, "0." + "0" * 40 + "1"])
def test_huge_exponents_and_digit_counts_are_refused_without_being_written_out(text, monkeypatch):
    def never(value):  # the old check built format(value, "f"): ~2 GB for 1e999999999
        raise AssertionError("plain_decimal was called on an oversized decimal")

    monkeypatch.setattr(schema, "plain_decimal", never)
    error = _refused("place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": text})
    assert error.parameter == "quantity" and "too many digits" in error.message


def test_the_digit_cap_is_exact():
    at_cap = "1" * MAX_DECIMAL_DIGITS
    assert prepare_arguments(ORDER, {**LIMIT_BUY, "quantity": at_cap}).as_dict()["quantity"] == at_cap
    small = "0." + "0" * (MAX_DECIMAL_DIGITS - 2) + "1"  # 40 digits written out
    assert prepare_arguments(ORDER, {**LIMIT_BUY, "quantity": small}).as_dict()["quantity"] == small
    assert "too many digits" in _refused("place_order", {**LIMIT_BUY, "quantity": "1" * (MAX_DECIMAL_DIGITS + 1)}).message
    assert "too many digits" in _refused("place_order", {**LIMIT_BUY, "quantity": "0.0" + small[2:]}).message


@pytest.mark.parametrize(
    ("value", "digits"),
    [("0", 1), ("5", 1), ("1e3", 4), ("1.5e-3", 5), ("123.45", 5), ("100", 3), ("0.010", 3), ("1e-1", 2)],
)
def test_plain_digits_counts_the_written_out_form(value, digits):
    assert plain_digits(Decimal(value)) == digits


def test_a_long_decimal_string_is_refused_before_parsing():
    error = _refused("place_order", {**LIMIT_BUY, "quantity": " " * 10_000 + "1"})
    assert "too long" in error.message and len(error.message) < 200


@pytest.mark.parametrize(
    ("args", "parameter"),
    [
        ({"symbol": "BTC\ud800USDT"}, "symbol"),
        ({"symbol": "B" * 50_000_000}, "symbol"),
        ({"symbol": "btc/usdt:usdt"}, "symbol"),  # btcusdt and btc/usdt are read as BTCUSDT (test_symbol_spellings)
        ({"symbol": "BTC USDT"}, "symbol"),
        ({"symbol": 42}, "symbol"),
        ({"symbol": "BTCUSDT", "newClientOrderId": "my order"}, "newClientOrderId"),
        ({"symbol": "BTCUSDT", "newClientOrderId": "id\ud800"}, "newClientOrderId"),
        ({"symbol": "BTCUSDT", "newClientOrderId": "x" * 37}, "newClientOrderId"),
    ],
)
def test_symbols_and_client_ids_are_checked_against_binances_characters_first(args, parameter):
    # checked before anything else: the other arguments here are missing or wrong too
    error = _refused("place_order", {**args, "side": "HOLD"})
    assert error.parameter == parameter and len(error.message) < 200


def test_symbols_lists_are_checked_too():
    assert _refused("get_ticker_price", {"symbols": ["BTCUSDT", "bad symbol"]}).parameter == "symbols"
    assert prepare_arguments(CATALOG.get("get_ticker_price"), {"symbols": ["BTCUSDT", "1000SATS-USD_T.X"]})


@pytest.mark.parametrize("value", ["+08:00\ud800", "x" * 2000, "8\x00"])
def test_other_strings_are_capped_and_must_be_sendable(value):
    error = _refused("get_klines", {"symbol": "BTCUSDT", "interval": "1m", "timeZone": value})
    assert error.parameter == "timeZone" and len(error.message) < 200


def test_integers_refuse_booleans_and_values_binance_cannot_hold():
    get_order = {"symbol": "BTCUSDT"}
    assert _refused("get_order", {**get_order, "orderId": True}).parameter == "orderId"
    assert "too large" in _refused("get_order", {**get_order, "orderId": 2**63}).message
    assert "too large" in _refused("get_order", {**get_order, "orderId": 1e300}).message
    assert prepare_arguments(CATALOG.get("get_order"), {**get_order, "orderId": 2**63 - 1}).as_dict()["orderId"] == str(2**63 - 1)


@pytest.mark.parametrize(("value", "ok"), [(1, True), (1000, True), (0, False), (1001, False)])
def test_range_bounds_are_inclusive(value, ok):
    endpoint = CATALOG.get("get_klines")
    args = {"symbol": "BTCUSDT", "interval": "1m", "limit": value}
    if ok:
        assert prepare_arguments(endpoint, args).as_dict()["limit"] == str(value)
    else:
        assert "between 1 and 1000" in _refused("get_klines", args).message


@pytest.mark.parametrize(("value", "ok"), [("0", True), ("60000", True), ("60000.1", False)])
def test_decimal_bounds_are_inclusive(value, ok):
    args = {**LIMIT_BUY, "recvWindow": value}
    if ok:
        assert prepare_arguments(ORDER, args).as_dict()["recvWindow"] == value
    else:
        assert _refused("place_order", args).parameter == "recvWindow"


def test_a_huge_unknown_parameter_name_is_not_echoed_whole():
    error = _refused("get_ticker_price", {"x" * 100_000: 1})
    assert len(error.message) < 400 and len(error.parameter or "") <= 40


def test_an_oversized_account_name_is_refused():
    assert _refused("get_account", {"account": "a" * 10_000}).parameter == "account"


@pytest.mark.parametrize("url", ["https://api.binance.com:abc", "http://127.0.0.1:99999", "http://[::1"])
def test_a_bad_base_url_port_is_a_clear_refusal(url):
    assert "port" in (base_url_problem(url) or "") or "scheme://host" in (base_url_problem(url) or "")
    with pytest.raises(ConfigError, match="BINANCE_SPOT_MCP_MAINNET_BASE_URL"):
        load_settings(environ={"BINANCE_SPOT_MCP_MAINNET_BASE_URL": url})


def test_a_bad_port_in_tools_md_breaks_only_that_account(tmp_path):
    from binance_spot_mcp.accounts.store import AccountStore
    from binance_spot_mcp.redact import Redactor

    path = tmp_path / "TOOLS.md"
    path.write_text(
        "## Binance Accounts\n### bad\n- API Key: abcdefghijkl\n- Secret: abcdefghijklmnop\n"
        "- Environment: testnet\n- Base URL: http://127.0.0.1:abc\n"
        "### good\n- API Key: abcdefghijkm\n- Secret: abcdefghijklmnoq\n- Environment: testnet\n"
    )
    current = AccountStore(load_settings(tools_file=str(path), environ={}), Redactor()).current()
    assert current.names() == ["good"] and "port" in current.broken["bad"].problem


def test_the_cli_reports_a_bad_port_without_a_traceback(tmp_path, capsys, cli_isolation):
    from binance_spot_mcp.cli.commands import main

    code = main(["--tools-file", str(tmp_path / "TOOLS.md"), "accounts", "add", "x", "--environment", "testnet",
                 "--base-url", "https://api.binance.com:abc"])
    err = capsys.readouterr().err
    assert code == 1 and "port" in err and "Traceback" not in err


@pytest.mark.anyio
@pytest.mark.parametrize(
    "arguments",
    [
        {"symbol": "B" * 5_000_000, "interval": "1m"},
        {"symbol": "BTCUSDT", "interval": "1m", "timeZone": "\ud800"},
        {"symbol": "BTCUSDT", "interval": "1m", "startTime": 10**40},
    ],
)
async def test_over_mcp_hostile_values_are_clear_errors(world, arguments):
    async with memory_client(world.tools_file, "auto", world.base_url) as client:
        result = await client.call_tool("get_klines", arguments)
    body = result_json(result)
    assert result.is_error and body["error"] == "invalid_arguments" and "internal error" not in body["message"]
