"""Symbols as people and ccxt type them: ``btcusdt``, ``BTC/USDT``, ``btc-usdt`` are read as
Binance's ``BTCUSDT``, and the result says which symbol was used; an unknown symbol gets the
nearest listed ones ("did you mean BTCUSDT?"). Issue 22's rules keep holding: only ASCII letters
change case, a Unicode symbol is used as it is, and what is not a symbol stays refused."""

from __future__ import annotations

import pytest

from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.catalog.schema import prepare_arguments
from binance_spot_mcp.errors import ToolInputError
from binance_spot_mcp.policy import is_symbol, spelled_symbol
from tests.e2e_support import ERAS, memory_client, result_json

CATALOG = load_catalog()


@pytest.mark.parametrize(("typed", "binance"), [
    ("btcusdt", "BTCUSDT"), ("BTC/USDT", "BTCUSDT"), ("btc-usdt", "BTCUSDT"), ("Eth/Btc", "ETHBTC"),
    ("BTCUSDT", "BTCUSDT"), ("这是测试币456", "这是测试币456"), ("btc这是", "BTC这是"), ("ßtc", "ßTC"),
    ("1000sats/usdt", "1000SATSUSDT"),
], ids=lambda v: v.encode("unicode_escape").decode())
def test_spellings_people_type(typed, binance):
    assert spelled_symbol(typed) == binance and is_symbol(binance)


@pytest.mark.parametrize("typed", ["BTC USDT", "BTC/USDT:USDT", "A/B/C", "/BTC", "BTC/", "BTC/这是", "BTC\u200b/USDT",
                                   "x" * 30], ids=lambda v: v.encode("unicode_escape").decode()[:20])
def test_what_is_not_a_symbol_stays_refused(typed):
    assert not is_symbol(spelled_symbol(typed))
    with pytest.raises(ToolInputError, match="'symbol' must be a Binance symbol"):
        prepare_arguments(CATALOG.get("get_ticker_price"), {"symbol": typed})


def test_prepare_sends_binance_s_spelling_and_remembers_what_was_typed():
    prepared = prepare_arguments(CATALOG.get("get_ticker_price"), {"symbols": ["btc/usdt", "ETHUSDT"]})
    assert dict(prepared.params)["symbols"] == '["BTCUSDT","ETHUSDT"]'
    assert prepared.respelt == (("btc/usdt", "BTCUSDT"),)
    same = prepare_arguments(CATALOG.get("get_ticker_price"), {"symbol": "BTCUSDT"})
    assert same.respelt == ()


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ERAS)
async def test_rest_tools_take_the_spellings_and_say_what_was_used(world, mode):
    async with memory_client(world.tools_file, mode, world.base_url) as client:
        price = await client.call_tool("get_ticker_price", {"symbol": "btc/usdt"})
        exact = await client.call_tool("get_ticker_price", {"symbol": "BTCUSDT"})
        order = await client.call_tool("place_order", {"account": "main", "symbol": "btc-usdt", "side": "BUY",
                                                       "type": "MARKET", "quantity": "0.001"})
    body = result_json(price)
    assert not price.is_error and body["symbolUsed"] == "BTCUSDT" and body["result"]["symbol"] == "BTCUSDT"
    assert "'btc/usdt' was read as BTCUSDT" in body["note"]
    assert "symbolUsed" not in result_json(exact)  # nothing to say when it was typed as Binance spells it
    placed = result_json(order)
    assert not order.is_error and placed["symbolUsed"] == "BTCUSDT" and placed["result"]["status"] == "FILLED"


@pytest.mark.anyio
async def test_an_unknown_symbol_suggests_the_nearest_listed_ones(world):
    async with memory_client(world.tools_file, "auto", world.base_url) as client:
        result = await client.call_tool("get_ticker_price", {"symbol": "BTCUSTD"})
    body = result_json(result)
    assert result.is_error and body["code"] == -1121
    assert "Did you mean BTCUSDT" in body["hint"]


@pytest.mark.anyio
async def test_a_deny_list_holds_against_every_spelling(world):
    env = {"BINANCE_SPOT_MCP_DENIED_SYMBOLS": "BTCUSDT"}
    async with memory_client(world.tools_file, "auto", world.base_url, extra_env=env) as client:
        results = [await client.call_tool("place_order", {"account": "main", "symbol": typed, "side": "BUY",
                                                          "type": "MARKET", "quantity": "0.001"})
                   for typed in ("btc/usdt", "btc-usdt", "btcusdt")]
    assert all(r.is_error and result_json(r)["error"] == "policy_refused" for r in results)


@pytest.mark.anyio
async def test_wait_for_order_reads_the_same_spellings(world):
    async with memory_client(world.tools_file, "auto", world.base_url) as client:
        order = result_json(await client.call_tool("place_order", {
            "account": "main", "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}))
        waited = await client.call_tool("wait_for_order", {"account": "main", "symbol": "btc/usdt",
                                                           "orderId": order["orderId"], "wait_seconds": 1})
    assert not waited.is_error and result_json(waited)["order"]["symbol"] == "BTCUSDT"
