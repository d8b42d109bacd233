"""A quote that is not a finite positive number makes an order unpriceable (issue 22, item 3).

Dropping a bad last price or best bid used to value a LIMIT SELL at its own (low) price, so it
slipped under a cap. Now such a quote refuses the order wherever a cap applies.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import pytest
from binance_spot_mcp.errors import Unpriceable
from binance_spot_mcp.exchange.pricing import Market, PairBook, order_value

from tests.e2e_support import memory_client
from tests.exchange.test_pricing import ASSETS, QUOTES
from tests.guard.test_guard_rails import GTC, refused, with_account, writes

BAD = ["0", "-1", "NaN", "Infinity", "-Infinity", "", "abc", None]
CHEAP_SELL = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "quantity": "0.001", "price": "1", **GTC}


def _market(field: str, bad: Any) -> Market:
    async def read(tool: str, args: list[tuple[str, str]]) -> Any:
        symbol = dict(args)["symbol"]
        bid, ask, last = QUOTES[symbol]
        if tool == "get_book_ticker":
            book = {"symbol": symbol, "bidPrice": bid, "askPrice": ask}
            return {**book, field: bad} if field in book else book
        if tool == "get_ticker_price":
            return {"symbol": symbol, "price": bad} if field == "price" else {"symbol": symbol, "price": last}
        asks = [[bad, "1"]] if field == "asks" else [[ask, "1"]]
        return {"bids": [], "asks": asks}

    async def info(symbol: str) -> Any:
        base, quote = ASSETS[symbol]
        return {"symbol": symbol, "baseAsset": base, "quoteAsset": quote}

    return Market(read, info, PairBook(), "http://127.0.0.1:1")


@pytest.mark.parametrize("bad", BAD, ids=[repr(b) for b in BAD])
@pytest.mark.parametrize(("field", "order"), [
    pytest.param("price", CHEAP_SELL, id="last-price-limit-sell"),
    pytest.param("bidPrice", CHEAP_SELL, id="best-bid-limit-sell"),
    pytest.param("price", {**CHEAP_SELL, "type": "MARKET", "price": None}, id="last-price-market-sell"),
    pytest.param("askPrice", {**CHEAP_SELL, "side": "BUY", "type": "STOP_LOSS", "price": None, "stopPrice": "1"},
                 id="best-ask-stop-buy"),
    pytest.param("asks", {**CHEAP_SELL, "side": "BUY", "type": "MARKET", "price": None}, id="ask-level-market-buy"),
])
def test_a_quote_that_is_not_finite_and_positive_makes_the_order_unpriceable(field, order, bad):
    params = {k: v for k, v in order.items() if v is not None}
    with pytest.raises(Unpriceable, match="not a positive"):
        anyio.run(lambda: order_value("place_order", params, _market(field, bad)))


def test_good_quotes_still_value_the_order():
    assert anyio.run(lambda: order_value("place_order", dict(CHEAP_SELL), _market("none", None))) == Decimal(60)


@pytest.mark.anyio
@pytest.mark.parametrize("last", ["0", "-5"])
async def test_a_capped_account_refuses_an_order_the_bad_quote_cannot_value(world, last):
    with_account(world, "capped", "Max Order Value: 100 USDT")
    world.exchange.last_price["BTCUSDT"] = Decimal(last)
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        # 65 USDT at its own price; with a readable market it is worth ~300 (test_guard_rails)
        low_sell = {**CHEAP_SELL, "quantity": "0.005", "price": "13000", "account": "capped"}
        body = refused(await client.call_tool("place_order", low_sell), "valuation")
    assert "last price of BTCUSDT" in body["message"] and writes(world) == []
