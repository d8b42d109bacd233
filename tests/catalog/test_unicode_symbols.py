"""Unicode symbols (CHANGELOG 2025-12-02): ``symbol`` and ``symbols`` take UTF-8 names such as the
testnet's ``这是测试币456``; what Binance still refuses (control and invisible characters, spaces,
more than 20 characters) is refused before anything else, without echoing the value."""

from __future__ import annotations

import json

import pytest
from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.catalog.schema import check_identifiers, prepare_arguments
from binance_spot_mcp.errors import ToolInputError

CATALOG = load_catalog()
TESTNET_SYMBOL = "这是测试币456"  # testnet's Unicode symbol: base 这是测试币, quote 456
DOC_SYMBOL = "１２３４５６"  # rest-api.md's signing example (full-width digits)

ACCEPTED = [TESTNET_SYMBOL, DOC_SYMBOL, "这是测试币", "BTCUSDT", "BTC.B-X_1", "日" * 20, "ÄBC", "क्षUSDT"]
REFUSED = {
    "space": "这是 测试币456",
    "ideographic-space": "这是\u3000测试币456",
    "no-break-space": "BTC\u00a0USDT",
    "nul": "BTC\x00USDT",
    "trailing-newline": "BTCUSDT\n",
    "tab": "这是\t测试",
    "del": "BTC\x7fUSDT",
    "c1-control": "BTC\x85USDT",
    "line-separator": "这是\u2028测试",
    "bidi-override": "\u202eTDSUCTB",
    "zero-width-space": "BTC\u200bUSDT",
    "zero-width-joiner": "这是\u200d测试",
    "bom": "\ufeffBTCUSDT",
    "lone-surrogate": "BTC\ud800",
    "private-use": "BTC\ue000",
    "too-long-cjk": "日" * 21,
    "too-long-ascii": "A" * 21,
    "empty": "",
    "at-sign": "这是测试币456@trade",
    "slash": "BTC/USDT",
    "ampersand": "BTC&side=SELL",
    "quote": 'BTC"USDT',
    "emoji": "BTC\U0001f680",
    "leading-combining-mark": "\u0301BTCUSDT",
}


@pytest.mark.parametrize("symbol", ACCEPTED, ids=[f"ok{i}" for i in range(len(ACCEPTED))])
def test_unicode_symbols_are_accepted_and_sent_unchanged(symbol):
    check_identifiers({"symbol": symbol})
    call = prepare_arguments(CATALOG.get("get_ticker_price"), {"symbol": symbol})
    assert call.as_dict()["symbol"] == symbol


def test_a_symbols_list_may_mix_unicode_and_ascii_names():
    call = prepare_arguments(CATALOG.get("get_ticker_price"), {"symbols": [TESTNET_SYMBOL, "BTCUSDT", DOC_SYMBOL]})
    assert json.loads(call.as_dict()["symbols"]) == [TESTNET_SYMBOL, "BTCUSDT", DOC_SYMBOL]


def test_an_order_on_the_testnet_symbol_passes_the_argument_checks():
    args = {"symbol": TESTNET_SYMBOL, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "1", "price": "2"}
    assert prepare_arguments(CATALOG.get("place_order"), args).as_dict()["symbol"] == TESTNET_SYMBOL


@pytest.mark.parametrize("symbol", list(REFUSED.values()), ids=list(REFUSED))
def test_what_binance_refuses_is_refused_and_not_echoed(symbol):
    with pytest.raises(ToolInputError) as caught:
        check_identifiers({"symbol": symbol})
    assert caught.value.parameter == "symbol"
    assert "20" in caught.value.message and "letters" in caught.value.message
    if symbol:
        assert symbol not in caught.value.message
    with pytest.raises(ToolInputError) as listed:
        check_identifiers({"symbols": [TESTNET_SYMBOL, symbol]})
    assert listed.value.parameter == "symbols"


def test_non_text_symbols_are_refused():
    for value in (12, ["BTCUSDT"], {"s": 1}):
        with pytest.raises(ToolInputError):
            check_identifiers({"symbol": value})
    with pytest.raises(ToolInputError):
        check_identifiers({"symbols": ["BTCUSDT", 7]})
