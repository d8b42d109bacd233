"""Market stream names with a Unicode symbol (CHANGELOG 2025-12-02): ``这是测试币456@trade`` is a
stream name; only ASCII letters are lowercased; what the REST tools refuse in a symbol is refused
in a stream name too."""

from __future__ import annotations

import pytest
from binance_spot_mcp.errors import ToolInputError
from binance_spot_mcp.streams.buffers import market_stream_name

TESTNET_SYMBOL = "这是测试币456"


@pytest.mark.parametrize(
    ("raw", "name"),
    [(f"{TESTNET_SYMBOL}@trade", f"{TESTNET_SYMBOL}@trade"),
     (f"{TESTNET_SYMBOL}@kline_1M", f"{TESTNET_SYMBOL}@kline_1M"),
     (f"{TESTNET_SYMBOL}@depth5@100ms", f"{TESTNET_SYMBOL}@depth5@100ms"),
     ("１２３４５６@bookTicker", "１２３４５６@bookTicker"),
     ("ÄBC@trade", "Äbc@trade"),  # only ASCII letters are lowercased
     ("BTCUSDT@ticker", "btcusdt@ticker")],
    ids=["trade", "kline", "depth", "full-width", "non-ascii-letter", "ascii"],
)
def test_unicode_symbols_make_stream_names(raw, name):
    assert market_stream_name(raw) == name


@pytest.mark.parametrize(
    "raw",
    ["这是 测试币456@trade", "这是\u3000测试@trade", "这是\u200b测试@trade", "\u202e这是@trade", "这是\x00@trade",
     "这是\u2028@trade", "日" * 21 + "@trade", "这是/测试@trade", "这是测试币456@trade@trade", "这是测试币456@depth7"],
    ids=["space", "ideographic-space", "zero-width", "bidi", "nul", "line-separator", "too-long", "slash", "two-kinds",
         "bad-kind"],
)
def test_what_binance_refuses_is_not_a_stream_name(raw):
    with pytest.raises(ToolInputError):
        market_stream_name(raw)
