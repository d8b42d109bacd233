"""Edges of the paper desk found by the property tests, each pinned with exact figures on an
in-process market (``paper_stub``): a quoteOrderQty order whose rest cannot buy one more lot is
FILLED (only an order that empties the book EXPIRES), a SELL by quote never skips to a worse bid,
and a resting order placed long after the last catch-up fills on the next call without reading
the trades it could never have matched."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.paper.desk import PaperDesk
from binance_spot_mcp.paper.market import AGG_PAGE
from binance_spot_mcp.paper.settings import PaperSettings
from binance_spot_mcp.store import Store

from tests.paper.paper_stub import SYMBOL, StubAccount, StubMarket

pytestmark = pytest.mark.anyio
CATALOG = load_catalog()
ACCOUNT = StubAccount(paper=PaperSettings(balances=(("USDT", D(1_000_000)), ("BTC", D(100)))))


def _desk(tmp_path: Path, market: StubMarket) -> PaperDesk:
    return PaperDesk(Store(tmp_path / "desk.sqlite3"), market.public, clock_ms=lambda: 1_000)


async def _call(desk: PaperDesk, tool: str, **params: str) -> Any:
    endpoint = CATALOG.get(tool)
    assert endpoint is not None
    return await desk.handle(endpoint, [("symbol", SYMBOL), *params.items()], ACCOUNT)


async def test_a_quote_order_whose_rest_cannot_buy_another_lot_is_filled(tmp_path):
    market = StubMarket()
    market.set_book([(D(99), D(1))], [(D(100), D(1)), (D(150), D(1))])
    desk = _desk(tmp_path, market)
    # the first level whole (100 USDT); 0.01 USDT left buys less than a lot (0.0001) at 150
    placed = await _call(desk, "place_order", side="BUY", type="MARKET", quoteOrderQty="100.01")
    assert [(f["price"], f["qty"]) for f in placed["fills"]] == [("100.00000000", "1.00000000")]
    assert (placed["status"], placed["executedQty"]) == ("FILLED", "1.00000000")


async def test_a_quote_order_that_empties_the_book_expires_with_what_it_got(tmp_path):
    market = StubMarket()
    market.set_book([(D(99), D(1))], [(D(100), D(1)), (D(150), D(1))])
    desk = _desk(tmp_path, market)
    placed = await _call(desk, "place_order", side="BUY", type="MARKET", quoteOrderQty="1000")
    assert (placed["status"], placed["executedQty"], placed["cummulativeQuoteQty"]) == (
        "EXPIRED", "2.00000000", "250.00000000")


async def test_a_sell_by_quote_never_skips_to_a_worse_bid(tmp_path):
    market = StubMarket()
    market.set_book([(D(10000), D(1)), (D(50), D(1))], [(D(10001), D(1))])
    desk = _desk(tmp_path, market)
    # a lot (0.0001) at 10000 receives 1 USDT; the 0.5 left is less than a lot there, so the walk
    # stops: it must not sell 0.01 at 50 while the bid at 10000 still wants 0.9999
    placed = await _call(desk, "place_order", side="SELL", type="MARKET", quoteOrderQty="1.5")
    assert [(f["price"], f["qty"]) for f in placed["fills"]] == [("10000.00000000", "0.00010000")]
    assert placed["status"] == "FILLED"


async def test_an_order_placed_long_after_the_last_catch_up_fills_on_the_next_call(tmp_path):
    market = StubMarket()
    market.set_book([(D(99), D(1))], [(D(101), D(1))])
    market.trade(D(100), D(1), False)
    desk = _desk(tmp_path, market)
    first = await _call(desk, "place_order", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.1", price="99.5")
    market.trade(D(99), D(1), True)  # through its price: fills it, and the checkpoint is set here
    (done,) = await _call(desk, "get_all_orders")
    assert (done["orderId"], done["status"]) == (first["orderId"], "FILLED")
    for _ in range(3 * 50 * AGG_PAGE):  # hours of trading while the account has nothing open
        market.trade(D(100), D("0.01"), False)
    later = await _call(desk, "place_order", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.1", price="99.5")
    market.trade(D(99), D(1), True)
    reads_before = market.calls.count("get_agg_trades")
    order = await _call(desk, "get_order", orderId=str(later["orderId"]))
    assert (order["status"], order["executedQty"]) == ("FILLED", "0.10000000")
    # the trades before the order was placed could never fill it: they are not read at all
    assert market.calls.count("get_agg_trades") - reads_before == 1


async def test_a_stop_placed_while_a_catch_up_reads_the_tape_still_sells_when_it_triggers(tmp_path):
    """Another process (or task) places a STOP_LOSS after this catch-up listed the open orders but
    before it writes: the stop triggers in this batch with no book fetched for it. It must still
    execute (now or on the next call), never sit 'working' forever with its quantity locked."""
    market = StubMarket()
    market.set_book([(D(94), D(5)), (D(93), D(5))], [(D(101), D(5))])
    for _ in range(5):
        market.trade(D(100), D(1), False)
    desk = _desk(tmp_path, market)
    await _call(desk, "place_order", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.1", price="90")
    other = _desk(tmp_path, market)  # a second server process on the same database
    market.trade(D(94), D(1), True)  # falls through 95: a SELL stop at 95 placed before it triggers here
    placed: dict[str, Any] = {}
    read_tape = market.public

    async def public(tool: str, params: Any, base_url: str) -> Any:
        if tool == "get_agg_trades" and dict(params).get("fromId") == "6" and not placed:
            placed["stop"] = await _other_places_stop(other, market)
        return await read_tape(tool, params, base_url)

    market_reads = desk.market._public
    desk.market._public = public
    await _call(desk, "get_open_orders")
    desk.market._public = market_reads
    stop_id = placed["stop"]
    await _call(desk, "get_open_orders")  # the next call may finish what the first could not
    order = await _call(desk, "get_order", orderId=str(stop_id))
    assert (order["status"], order["executedQty"]) == ("FILLED", "0.50000000")
    account = await _call(desk, "get_account")
    btc = next(b for b in account["balances"] if b["asset"] == "BTC")
    assert btc["locked"] == "0.00000000"


async def _other_places_stop(other: PaperDesk, market: StubMarket) -> int:
    """A SELL STOP_LOSS at 95 written the way a second process would, its after_trade the tape
    before the fall (its own reads came before the trade at 94)."""
    from binance_spot_mcp.paper.ledger import OrderRow

    def write() -> int:
        with other.ledger.store.write() as db:
            order_id = other.ledger.next_id(db, ACCOUNT.name, "order")
            row = OrderRow(account=ACCOUNT.name, order_id=order_id, symbol=SYMBOL, client_order_id="other-process",
                           order_list_id=-1, side="SELL", type="STOP_LOSS", time_in_force=None, price=D(0),
                           orig_qty=D("0.5"), executed_qty=D(0), cum_quote=D(0), orig_quote_qty=D(0), status="NEW",
                           stop_price=D(95), time_ms=1_000, update_ms=1_000, working_ms=1_000, is_working=False,
                           queue_ahead=D(0), after_trade=5, base_asset="BTC", quote_asset="USDT",
                           locked_asset="BTC", locked_left=D("0.5"))
            other.ledger.move(db, ACCOUNT.name, "BTC", free=D("-0.5"), locked=D("0.5"))
            other.ledger.insert_order(db, row)
            return order_id

    return await other.ledger.store.run(write)
