"""Order values at their edges: each price an order names, each quote it needs, the pair memory, the
messages a refusal carries (the mutation run of ``exchange.pricing`` asked for these)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import anyio
import pytest
from binance_spot_mcp.errors import ExchangeError, TransportError, Unpriceable
from binance_spot_mcp.exchange.pricing import Market, PairBook, Quote, order_value

from tests.exchange.test_pricing import Stub, market, value

D = Decimal
HOST = "http://127.0.0.1:1"


def refused(tool: str, params: dict[str, str], m: Market | None = None, **kw: Any) -> str:
    with pytest.raises(Unpriceable) as caught:
        anyio.run(lambda: order_value(tool, params, m or market(), **kw))
    return caught.value.reason


# ------------------------------------------------------------------------------------------ quotes
def test_a_missing_figure_is_named_in_the_refusal():
    with pytest.raises(Unpriceable) as caught:
        Quote(None, D(2), None, "BTCUSDT").sell_high()
    assert caught.value.reason == (
        "the exchange's best bid and last price of BTCUSDT is missing or not a positive number, so the order "
        "cannot be valued"
    )
    with pytest.raises(Unpriceable) as caught:
        Quote(D(1), None, D(1)).high()
    assert caught.value.reason.startswith("the exchange's best ask of this symbol is missing")


@pytest.mark.parametrize(("quote", "method"), [
    pytest.param(Quote(None, D(1), D(1)), "high", id="high-without-bid"),
    pytest.param(Quote(D(1), D(1), None), "high", id="high-without-last"),
    pytest.param(Quote(D(1), D(1), None), "low", id="low-without-last"),
    pytest.param(Quote(None, D(1), D(1)), "low", id="low-without-bid"),
])
def test_every_figure_a_price_uses_must_be_there(quote, method):
    with pytest.raises(Unpriceable, match="missing or not a positive number"):
        getattr(quote, method)()


# ------------------------------------------------------------------------------------ pair memory
class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_pair_book_remembers_each_host_and_symbol_until_its_time_ends():
    clock = Clock()
    pairs = PairBook(ttl_s=10.0, clock=clock)
    pairs.put("a", "XYZ", False)
    pairs.put("a", "BTCUSDT", True)
    assert pairs.get("a", "XYZ") is False and pairs.get("a", "BTCUSDT") is True
    assert pairs.get("b", "XYZ") is None and pairs.get("a", "OTHER") is None
    clock.now = 9.999
    assert pairs.get("a", "XYZ") is False
    clock.now = 10.0
    assert pairs.get("a", "XYZ") is None and pairs.get("a", "BTCUSDT") is None


def test_a_missing_pair_is_not_asked_again_on_the_same_host_but_is_on_another():
    pairs, stub = PairBook(), Stub()

    async def run() -> None:
        first = Market(stub.read, stub.info, pairs, HOST)
        assert await first.maybe_quote("SOLBTC") is None
        again = Market(stub.read, stub.info, pairs, HOST)
        assert await again.maybe_quote("SOLBTC") is None
        assert await again.maybe_quote("BTCUSDT") is not None
        assert await Market(stub.read, stub.info, pairs, HOST).maybe_quote("BTCUSDT") is not None
        other = Market(stub.read, stub.info, pairs, "http://127.0.0.1:2")
        assert await other.maybe_quote("SOLBTC") is None

    anyio.run(run)
    asked = [symbol for tool, symbol in stub.calls if tool == "get_book_ticker"]
    # SOLBTC once per host; BTCUSDT once per Market (a quote is read fresh for every check)
    assert asked == ["SOLBTC", "BTCUSDT", "BTCUSDT", "SOLBTC"]


def test_the_assets_of_a_symbol_come_from_exchange_info():
    async def info(symbol: str) -> Any:
        return {"BTCUSDT": {"baseAsset": "btc", "quoteAsset": "usdt"}, "HALF": {"baseAsset": "X"}}.get(symbol)

    m = Market(Stub().read, info, PairBook(), HOST)
    assert anyio.run(lambda: m.assets("BTCUSDT")) == ("BTC", "USDT")
    for symbol in ("HALF", "NONE"):
        with pytest.raises(Unpriceable) as caught:
            anyio.run(lambda: m.assets(symbol))  # noqa: B023 - run at once
        assert caught.value.reason == f"the assets of {symbol} could not be read from exchangeInfo"


# ------------------------------------------------------------------------------- reading prices
class Replies(Stub):
    """The stub's prices, with one tool answering something else."""

    def __init__(self, tool: str, reply: Any) -> None:
        super().__init__()
        self.tool, self.reply = tool, reply
        self.args: list[tuple[str, list[tuple[str, str]]]] = []

    async def read(self, tool: str, args: list[tuple[str, str]]) -> Any:
        self.args.append((tool, list(args)))
        if tool == self.tool:
            if isinstance(self.reply, Exception):
                raise self.reply
            return self.reply
        return await super().read(tool, args)


SELL_MARKET = {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.01"}
BUY_MARKET = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.6"}


def _market(stub: Stub) -> Market:
    return Market(stub.read, stub.info, PairBook(), HOST)


def test_an_exchange_error_other_than_unknown_symbol_is_named():
    stub = Replies("get_ticker_price", ExchangeError(status=429, code=-1003, msg="Too many requests."))
    assert refused("place_order", SELL_MARKET, _market(stub)) == "prices of BTCUSDT could not be read (Too many requests.)"


@pytest.mark.parametrize("tool", ["get_book_ticker", "get_ticker_price"])
def test_a_reply_that_is_not_an_object_counts_as_no_price(tool):
    assert "missing or not a positive number" in refused("place_order", SELL_MARKET, _market(Replies(tool, [])))


def test_an_unknown_symbol_is_named():
    params = {**SELL_MARKET, "symbol": "NOPEUSDT"}
    assert refused("place_order", params) == "NOPEUSDT is not a symbol on this exchange"


def test_a_market_buy_walks_the_order_book_it_asked_for():
    stub = Replies("none", None)
    assert anyio.run(lambda: order_value("place_order", BUY_MARKET, _market(stub))) == D("0.5") * 60010 + D("0.1") * 60100
    assert stub.args == [("get_order_book", [("symbol", "BTCUSDT"), ("limit", "100")])]


def test_an_empty_ask_level_is_skipped_not_the_end_of_the_book():
    book = {"bids": [], "asks": [["60000", "0"], ["60010", "1"]]}
    got = anyio.run(lambda: order_value("place_order", BUY_MARKET, _market(Replies("get_order_book", book))))
    assert got == D("0.6") * 60010


def test_an_order_book_that_cannot_be_read_or_is_too_thin_is_named():
    stub = Replies("get_order_book", TransportError("connection refused", sent=False))
    assert refused("place_order", BUY_MARKET, _market(stub)) == (
        "the order book of BTCUSDT could not be read (connection refused)"
    )
    assert refused("place_order", {**BUY_MARKET, "quantity": "5"}) == (
        "the best 100 ask levels of BTCUSDT do not hold 5; a market buy of that size cannot be valued"
    )


# ----------------------------------------------------------------------------------- conversion
def test_a_bridge_is_tried_after_one_that_is_an_end_or_leads_nowhere():
    m = market()
    # USDT -> ETH: no direct pair; USDT is an end, USDT -> USDC does not trade, USDT -> BTC -> ETH does
    got = anyio.run(lambda: m.convert(D("600"), "USDT", "ETH"))
    assert got == D("600") / D("59990") / D("0.0499")


def test_an_unconvertible_value_names_the_bridges():
    with pytest.raises(Unpriceable) as caught:
        anyio.run(lambda: market().convert(D(1), "USDT", "EUR"))
    assert caught.value.reason == (
        "no price turns USDT into EUR: no USDTEUR or EURUSDT pair and no bridge through USDT, USDC, BTC"
    )


# ------------------------------------------------------------------------------ each order shape
BUY, SELL = {"side": "BUY"}, {"side": "SELL"}


def test_each_price_an_order_names_counts_when_it_is_the_highest():
    # pegged: its own price when above the market
    assert value("place_order", **BUY, type="LIMIT", quantity="0.01", price="70000", pegPriceType="PRIMARY_PEG") == D("700")
    # a stop BUY triggered above the market
    assert value("place_order", **BUY, type="STOP_LOSS", quantity="0.01", stopPrice="70000") == D("700")
    # a stop-limit SELL: its stop price, when above its limit price and the market
    assert value("place_order", **SELL, type="STOP_LOSS_LIMIT", quantity="0.01", price="1000", stopPrice="70000") == D("700")


@pytest.mark.parametrize("kind", ["STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"])
def test_limit_kinds_with_a_trigger_are_valued_at_their_price(kind):
    assert value("place_order", **BUY, type=kind, quantity="0.01", price="50000", stopPrice="49000") == D("500")


def test_what_cannot_be_valued_says_what_is_missing():
    params = {"symbol": "BTCUSDT", "side": "BUY"}
    assert refused("place_order", {**params, "type": "MARKET"}) == "a MARKET without a quantity cannot be valued"
    assert refused("place_order", params) == "a order without a quantity cannot be valued"
    assert refused("place_order", {**params, "quantity": "1"}) == "orders of type '?' cannot be valued"
    assert refused("place_order", {**params, "type": "FOO", "quantity": "1"}) == "orders of type 'FOO' cannot be valued"
    assert refused("get_order", params) == "get_order is not an order this server knows how to value"


def test_an_amend_keeps_the_stop_price_of_the_order_it_changes():
    existing = {"type": "STOP_LOSS_LIMIT", "side": "SELL", "price": "1000", "stopPrice": "70000"}
    got = anyio.run(lambda: order_value("amend_order_keep_priority", {"symbol": "BTCUSDT", "newQty": "0.01"}, market(),
                                        existing=existing))
    assert got == D("700")
    # an order reply without a stop price at all is valued too
    plain = {"type": "LIMIT", "side": "BUY", "price": "50000"}
    got = anyio.run(lambda: order_value("amend_order_keep_priority", {"symbol": "BTCUSDT", "newQty": "0.01"}, market(),
                                        existing=plain))
    assert got == D("500")
    message = refused("amend_order_keep_priority", {"symbol": "BTCUSDT", "newQty": "1"})
    assert re.fullmatch("the order to amend could not be found, so its new value is unknown", message)
