"""The paper desk with an in-process market: deeper snapshots, quote-quantity orders, IOC/FOK,
amend, cancel-replace's Binance codes, and a filter failure as -1013. Each asserts an exact figure."""

from __future__ import annotations

from decimal import Decimal as D
from types import SimpleNamespace

import pytest
from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.errors import ExchangeError, PolicyError
from binance_spot_mcp.paper.desk import PaperDesk
from binance_spot_mcp.paper.settings import PaperSettings
from binance_spot_mcp.store import Store

from tests.paper.stub_market import StubMarket, levels

pytestmark = pytest.mark.anyio
CATALOG = load_catalog()
ACCOUNT = SimpleNamespace(name="main", base_url="http://127.0.0.1:1",
                          paper=PaperSettings(balances=(("USDT", D(10_000_000)), ("BTC", D(10)))))


def _desk(tmp_path, market: StubMarket) -> PaperDesk:
    return PaperDesk(Store(tmp_path / "desk.sqlite3"), market, clock_ms=lambda: 1_000)


async def _call(desk: PaperDesk, tool: str, **params: str):
    return await desk.handle(CATALOG.get(tool), list(params.items()), ACCOUNT)


async def test_an_order_bigger_than_the_first_snapshot_fetches_a_deeper_one(tmp_path):
    market = StubMarket(asks=levels(D(60000), D(1), 150, "0.1"))
    desk = _desk(tmp_path, market)
    placed = await _call(desk, "place_order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="12")
    assert [p["limit"] for tool, p in market.calls if tool == "get_order_book"] == ["100", "5000"]
    assert (placed["status"], placed["executedQty"]) == ("FILLED", "12.00000000")
    assert len(placed["fills"]) == 120 and placed["fills"][-1]["price"] == "60119.00000000"


async def test_a_market_order_the_book_cannot_fill_expires_with_what_it_got(tmp_path):
    desk = _desk(tmp_path, StubMarket(asks=levels(D(60000), D(1), 150, "0.1")))
    placed = await _call(desk, "place_order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="20")
    assert (placed["status"], placed["executedQty"]) == ("EXPIRED", "15.00000000")  # never invented liquidity


async def test_a_quote_quantity_buy_spends_at_most_the_amount_in_whole_steps(tmp_path):
    desk = _desk(tmp_path, StubMarket(asks=[("60000", "0.01"), ("60100", "1")]))
    placed = await _call(desk, "place_order", symbol="BTCUSDT", side="BUY", type="MARKET", quoteOrderQty="1000")
    # 0.01 at 60000 (600 USDT), then floor(400 / 60100, 0.00001) = 0.00665 at 60100 (399.665 USDT)
    assert [(f["price"], f["qty"]) for f in placed["fills"]] == [("60000.00000000", "0.01000000"), ("60100.00000000", "0.00665000")]
    assert D(placed["cummulativeQuoteQty"]) == D("999.66500000") and placed["status"] == "FILLED"
    assert placed["origQuoteOrderQty"] == "1000.00000000" and placed["origQty"] == "0.01665000"


@pytest.mark.parametrize(("tif", "status", "executed"), [("IOC", "EXPIRED", "0.30000000"), ("FOK", "EXPIRED", "0.00000000"),
                                                          ("GTC", "PARTIALLY_FILLED", "0.30000000")])
async def test_ioc_keeps_what_filled_fok_all_or_nothing_gtc_rests(tmp_path, tif, status, executed):
    desk = _desk(tmp_path, StubMarket(asks=[("60000", "0.3"), ("60100", "5")], bids=[("59900", "1")]))
    placed = await _call(desk, "place_order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce=tif,
                         quantity="0.5", price="60000")
    assert (placed["status"], placed["executedQty"]) == (status, executed)
    account = await _call(desk, "get_account")
    usdt = next(b for b in account["balances"] if b["asset"] == "USDT")
    locked = D("0.2") * D("60000") if tif == "GTC" else D(0)
    assert D(usdt["locked"]) == locked


async def test_amend_keeps_priority_and_frees_the_difference(tmp_path):
    desk = _desk(tmp_path, StubMarket(asks=[("61000", "1")], bids=[("59000", "1")]))
    placed = await _call(desk, "place_order", symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="GTC",
                         quantity="2", price="60500")
    amended = await _call(desk, "amend_order_keep_priority", symbol="BTCUSDT", orderId=str(placed["orderId"]), newQty="0.5")
    assert amended["amendedOrder"]["qty"] == "0.50000000"  # the amend reply's own name (rest-api.md)
    btc = next(b for b in (await _call(desk, "get_account"))["balances"] if b["asset"] == "BTC")
    assert (btc["free"], btc["locked"]) == ("9.50000000", "0.50000000")
    with pytest.raises(ExchangeError) as bigger:
        await _call(desk, "amend_order_keep_priority", symbol="BTCUSDT", orderId=str(placed["orderId"]), newQty="3")
    assert bigger.value.code == -2038  # errors.md: 'Order amend (quantity increase) is not supported.'


async def test_cancel_replace_answers_with_binances_codes(tmp_path):
    desk = _desk(tmp_path, StubMarket(asks=[("61000", "1")], bids=[("59000", "1")]))
    new = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.1", "price": "58000"}
    with pytest.raises(ExchangeError) as stop:
        await _call(desk, "cancel_replace_order", cancelReplaceMode="STOP_ON_FAILURE", cancelOrderId="99", **new)
    assert (stop.value.status, stop.value.code, stop.value.data["newOrderResult"]) == (400, -2022, "NOT_ATTEMPTED")
    with pytest.raises(ExchangeError) as partly:
        await _call(desk, "cancel_replace_order", cancelReplaceMode="ALLOW_FAILURE", cancelOrderId="99", **new)
    assert (partly.value.status, partly.value.code) == (409, -2021)
    placed_anyway = partly.value.data["newOrderResponse"]  # the new order was placed: it must count
    assert placed_anyway["status"] == "NEW"
    ok = await _call(desk, "cancel_replace_order", cancelReplaceMode="STOP_ON_FAILURE",
                     cancelOrderId=str(placed_anyway["orderId"]), **{**new, "price": "57000"})
    assert (ok["cancelResult"], ok["newOrderResult"]) == ("SUCCESS", "SUCCESS")


async def test_a_filter_failure_is_binances_minus_1013_and_unsupported_features_are_named(tmp_path):
    desk = _desk(tmp_path, StubMarket(asks=[("61000", "1")], bids=[("59000", "1")]))
    with pytest.raises(ExchangeError) as lot:
        await _call(desk, "place_order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                    quantity="0.000001", price="50000")
    assert (lot.value.code, lot.value.msg) == (-1013, "Filter failure: LOT_SIZE")
    with pytest.raises(PolicyError, match="a trailing stop is not available on paper accounts"):
        await _call(desk, "place_order", symbol="BTCUSDT", side="SELL", type="STOP_LOSS", quantity="0.1", trailingDelta="100")
    with pytest.raises(PolicyError, match="smart order routing"):
        await _call(desk, "place_sor_order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.1")


async def test_a_resting_fill_the_books_cannot_pay_is_skipped_and_never_wedges_the_account(tmp_path, caplog):
    market = StubMarket(asks=[("61000", "1")], bids=[("59000", "1")])
    desk = _desk(tmp_path, market)
    placed = await _call(desk, "place_order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                         quantity="0.5", price="59500")
    with desk.ledger.store.write() as db:  # books that disagree: the order's lock has gone
        db.execute("UPDATE paper_orders SET locked_left = '0' WHERE order_id = ?", (placed["orderId"],))
        db.execute("UPDATE paper_balances SET free = '0', locked = '0' WHERE asset = 'USDT'")
    market.trade("59400", "1", True)  # trades through the bid
    order = await _call(desk, "get_order", symbol="BTCUSDT", orderId=str(placed["orderId"]))
    assert (order["status"], order["executedQty"]) == ("NEW", "0.00000000")  # not filled, not wedged
    assert "could not pay a fill" in caplog.text
    account = await _call(desk, "get_account")  # the account still answers
    assert {b["asset"] for b in account["balances"]} >= {"USDT", "BTC"}


async def test_an_order_type_the_symbol_does_not_enable_gets_binances_message(tmp_path, monkeypatch):
    from tests.paper import stub_market

    monkeypatch.setitem(stub_market.SYMBOL_INFO, "orderTypes", ["LIMIT", "LIMIT_MAKER"])
    desk = _desk(tmp_path, StubMarket(asks=[("61000", "1")], bids=[("59000", "1")]))
    with pytest.raises(ExchangeError) as market:
        await _call(desk, "place_order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.1")
    assert (market.value.code, market.value.msg) == (-2010, "Market orders are not supported for this symbol.")
