"""Order values from exchange prices: every order shape, conversions (direct, inverse, bridge), refusals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import pytest

from binance_spot_mcp.errors import ExchangeError, TransportError, Unpriceable
from binance_spot_mcp.exchange.pricing import Market, PairBook, order_value

D = Decimal
# symbol -> (bid, ask, last)
QUOTES = {"BTCUSDT": ("59990", "60010", "60000"), "SOLUSDT": ("149", "151", "150"), "ETHBTC": ("0.0499", "0.0501", "0.05")}
ASSETS = {"BTCUSDT": ("BTC", "USDT"), "SOLUSDT": ("SOL", "USDT"), "ETHBTC": ("ETH", "BTC")}
ASKS = {"BTCUSDT": [["60010", "0.5"], ["60100", "1"]]}


class Stub:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail = fail

    async def read(self, tool: str, args: list[tuple[str, str]]) -> Any:
        symbol = dict(args)["symbol"]
        self.calls.append((tool, symbol))
        if self.fail:
            raise TransportError("connection refused", sent=False)
        if symbol not in QUOTES:
            raise ExchangeError(status=400, code=-1121, msg="Invalid symbol.")
        bid, ask, last = QUOTES[symbol]
        if tool == "get_book_ticker":
            return {"symbol": symbol, "bidPrice": bid, "askPrice": ask}
        if tool == "get_ticker_price":
            return {"symbol": symbol, "price": last}
        return {"bids": [], "asks": ASKS.get(symbol, [])}

    async def info(self, symbol: str) -> Any:
        base, quote = ASSETS[symbol]
        return {"symbol": symbol, "baseAsset": base, "quoteAsset": quote}


def market(stub: Stub | None = None, pairs: PairBook | None = None) -> Market:
    stub = stub or Stub()
    return Market(stub.read, stub.info, pairs or PairBook(), "http://127.0.0.1:1")


def value(tool: str, **params: str) -> Decimal:
    return anyio.run(lambda: order_value(tool, {"symbol": "BTCUSDT", **params}, market()))


BUY, SELL = {"side": "BUY"}, {"side": "SELL"}


def test_single_orders_err_high():
    assert value("place_order", **BUY, type="LIMIT", quantity="0.01", price="50000") == D("500")
    # a SELL far below the market fills at the market: the best bid/last count, not its own price
    assert value("place_order", **SELL, type="LIMIT", quantity="0.01", price="1000") == D("600")
    assert value("place_order", **SELL, type="LIMIT", quantity="0.01", price="70000") == D("700")
    assert value("place_order", **BUY, type="MARKET", quoteOrderQty="123.4") == D("123.4")
    assert value("place_order", **BUY, type="MARKET", quantity="0.6") == D("0.5") * 60010 + D("0.1") * 60100
    assert value("place_order", **SELL, type="MARKET", quantity="0.01") == D("600")
    assert value("place_order", **SELL, type="STOP_LOSS", quantity="0.01", stopPrice="50000") == D("600.1")
    assert value("place_order", **BUY, type="TAKE_PROFIT", quantity="0.01", trailingDelta="100") == D("600.1") * D("1.01")
    assert value("place_order", **BUY, type="LIMIT", quantity="0.01", pegPriceType="PRIMARY_PEG") == D("600.1")
    assert value("cancel_replace_order", **BUY, type="LIMIT", quantity="0.01", price="50000") == D("500")


def test_order_lists_count_what_can_execute():
    oco = {"side": "SELL", "quantity": "0.01", "aboveType": "LIMIT_MAKER", "abovePrice": "70000",
           "belowType": "STOP_LOSS", "belowStopPrice": "50000"}
    assert value("place_order_list_oco", **oco) == D("700")  # one of the two
    working = {"workingType": "LIMIT", "workingSide": "BUY", "workingPrice": "50000", "workingQuantity": "0.01"}
    assert value("place_order_list_oto", **working, pendingType="LIMIT_MAKER", pendingSide="SELL",
                 pendingQuantity="0.02", pendingPrice="70000") == D("500") + D("1400")
    # OPO: the pending order takes the working quantity
    assert value("place_order_list_opo", **working, pendingType="LIMIT_MAKER", pendingSide="SELL",
                 pendingPrice="70000") == D("500") + D("700")
    pair = {"pendingSide": "SELL", "pendingAboveType": "LIMIT_MAKER", "pendingAbovePrice": "70000",
            "pendingBelowType": "STOP_LOSS", "pendingBelowStopPrice": "40000"}
    assert value("place_order_list_opoco", **working, **pair) == D("500") + D("700")
    assert value("place_order_list_otoco", **working, **pair, pendingQuantity="0.03") == D("500") + D("2100")
    assert value("place_oco_deprecated", side="SELL", quantity="0.01", price="70000", stopPrice="50000") == D("700")


def test_amend_is_the_existing_order_at_its_new_quantity():
    existing = {"type": "LIMIT", "side": "BUY", "price": "50000.00", "stopPrice": "0.00"}
    got = anyio.run(lambda: order_value("amend_order_keep_priority", {"symbol": "BTCUSDT", "newQty": "0.002"}, market(),
                                        existing=existing))
    assert got == D("100")
    with pytest.raises(Unpriceable, match="could not be found"):
        anyio.run(lambda: order_value("amend_order_keep_priority", {"symbol": "BTCUSDT", "newQty": "1"}, market()))


@pytest.mark.parametrize(
    ("params", "reason"),
    [({"side": "BUY", "type": "MARKET", "quantity": "5"}, "do not hold 5"),
     ({"side": "BUY", "type": "LIMIT", "quantity": "1"}, "without a price"),
     ({"side": "BUY", "type": "MARKET"}, "without a quantity")],
)
def test_what_cannot_be_valued_is_refused(params, reason):
    with pytest.raises(Unpriceable, match=reason):
        value("place_order", **params)


def test_conversions_direct_inverse_bridge_and_none():
    stub = Stub()
    m = market(stub)

    async def run() -> list[Any]:
        return [await m.convert(D("0.01"), "BTC", "USDT"),   # BTCUSDT at its highest price
                await m.convert(D("600"), "USDT", "BTC"),    # via BTCUSDT, divided by its lowest
                await m.convert(D("0.01"), "BTC", "SOL")]    # no BTC/SOL pair: BTC -> USDT -> SOL

    direct, inverse, bridged = anyio.run(run)
    assert direct == D("600.1") and inverse == D("600") / D("59990")
    assert bridged == D("600.1") / D("149")
    with pytest.raises(Unpriceable, match="no price turns USDT into EUR"):
        anyio.run(lambda: m.convert(D(1), "USDT", "EUR"))
    # each symbol's prices were read once per check, and missing pairs are remembered
    reads = [c for c in stub.calls if c[0] == "get_ticker_price"]
    assert len(reads) == len(set(reads))


def test_prices_that_cannot_be_read_are_refused_not_guessed():
    with pytest.raises(Unpriceable, match="prices of BTCUSDT could not be read"):
        anyio.run(lambda: order_value("place_order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
                                                      "quantity": "1"}, market(Stub(fail=True))))
