"""Unicode symbols and assets in the operator's guard rails (CHANGELOG 2025-12-02): Allowed and
Denied Symbols take them, caps may be in such an asset, and nothing but ASCII letters is
upper-cased. What Binance refuses in a symbol is refused in a list too."""

from __future__ import annotations

from decimal import Decimal

import pytest
from binance_spot_mcp.policy import (
    Amount,
    Rules,
    effective_policy,
    matches,
    parse_amount,
    parse_symbols,
)

TESTNET_SYMBOL = "这是测试币456"


def test_symbol_lists_take_unicode_symbols_and_patterns():
    assert parse_symbols(f"{TESTNET_SYMBOL}, 这是*, btc*") == (TESTNET_SYMBOL, "这是*", "BTC*")
    assert parse_symbols("１２３４５６") == ("１２３４５６",)
    assert matches(TESTNET_SYMBOL, "这是*") and matches(TESTNET_SYMBOL, "*456") and matches(TESTNET_SYMBOL, TESTNET_SYMBOL)
    assert not matches("这是测试币USDT", "*456") and not matches(TESTNET_SYMBOL, "这是测试币")


def test_only_ascii_letters_are_upper_cased():
    assert parse_symbols("ß*, straße") == ("ß*", "STRAßE")  # str.upper would make 'SS*' and 'STRASSE'
    assert matches("STRAßE", "STRAßE") and not matches("STRASSE", "STRAßE")


@pytest.mark.parametrize(
    "text",
    ["这是 测试币", "这是\u3000测试币", "BTC\u200bUSDT", "\u202eBTC", "BTC\x00USDT", "BTC\x85USDT", "这是\u2028测试", "BTC\U0001f680",
     "日" * 41],
    ids=["space", "ideographic-space", "zero-width", "bidi", "nul", "c1", "line-separator", "emoji", "too-long"],
)
def test_lists_refuse_what_binance_refuses_without_echoing_controls(text):
    with pytest.raises(ValueError) as caught:
        parse_symbols(text)
    assert "\x00" not in str(caught.value) and "\u202e" not in str(caught.value) and "\u2028" not in str(caught.value)


def test_allow_and_deny_lists_hold_for_a_unicode_symbol():
    allow = effective_policy(Rules(), Rules(allowed_symbols=parse_symbols(TESTNET_SYMBOL)))
    assert allow.symbol_problem(TESTNET_SYMBOL) is None
    assert allow.symbol_problem("BTCUSDT") is not None
    assert allow.symbol_problem("这是测试币4567") is not None  # a longer symbol is not the same one
    deny = effective_policy(Rules(denied_symbols=parse_symbols("*456")), Rules())
    problem = deny.symbol_problem(TESTNET_SYMBOL)
    assert problem is not None and TESTNET_SYMBOL in problem  # shown readably, not escaped
    assert deny.symbol_problem("BTCUSDT") is None


@pytest.mark.parametrize(
    ("text", "amount"),
    [("100 456", Amount(Decimal(100), "456")), ("5 这是测试币", Amount(Decimal(5), "这是测试币")),
     ("5这是测试币", Amount(Decimal(5), "这是测试币")), ("100 usdt", Amount(Decimal(100), "USDT"))],
)
def test_caps_may_be_in_a_unicode_or_digit_asset(text, amount):
    assert parse_amount(text) == amount


@pytest.mark.parametrize("text", ["100456", "100 4 56", "100 这是\u200b测试", "100 BTC-X", "100 " + "日" * 21, "5 \u202eUSDT"])
def test_ambiguous_or_invalid_assets_are_refused(text):
    with pytest.raises(ValueError):
        parse_amount(text)
