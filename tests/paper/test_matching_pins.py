"""Exact pins of the fill model's small rules (each found unguarded by mutation testing)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from binance_spot_mcp.paper.matching import (
    AggTrade,
    Fill,
    Level,
    Resting,
    filled,
    first_trigger,
    floor_step,
    match_trades,
    parse_levels,
    stop_triggered,
    walk_book,
)


def test_unusable_book_levels_are_dropped_and_the_rest_kept_in_order():
    raw = [["100", "1"], ["0", "1"], ["101", "0"], ["-1", "2"], ["NaN", "1"], ["102", "Infinity"], ["x"], ["0.5", "2"]]
    assert parse_levels(raw) == [Level(D("100"), D("1")), Level(D("0.5"), D("2"))]


def test_floor_step_rounds_down_to_the_step_and_a_zero_step_leaves_the_value():
    assert floor_step(D("0.0066555"), D("0.00001")) == D("0.00665")
    assert floor_step(D("0.0066599"), D("0.00001")) == D("0.00665")
    assert floor_step(D("1.23"), D(0)) == D("1.23")


def test_walk_book_wants_exactly_one_amount_and_names_what_it_matched():
    with pytest.raises(ValueError, match="^give exactly one of quantity and quote_quantity$"):
        walk_book("BUY", [], quantity=D(1), quote_quantity=D(1))
    (fill,) = walk_book("BUY", [Level(D("100"), D("2"))], quantity=D("0.5"), book_id=42)
    assert fill.receipt == {"source": "book", "lastUpdateId": 42, "level": 0, "levelPrice": "100", "levelQty": "2"}


def test_filled_sums_quantity_and_quote():
    fills = [Fill(D("100"), D("0.5")), Fill(D("101"), D("0.25"))]
    assert filled(fills) == (D("0.75"), D("50") + D("25.25"))


def _order(key: int, side: str, price: str, qty: str = "1", queue: str = "0", after: int = 0) -> Resting:
    return Resting(key, side, D(price), D(qty), D(queue), after, key)


def test_the_better_priced_bid_and_ask_fill_first_then_the_older_one():
    bids = [_order(1, "BUY", "100"), _order(2, "BUY", "101"), _order(3, "BUY", "101")]
    fills = match_trades(bids, [AggTrade(10, D("99"), D("1.5"), True, 1)])
    assert [(key, f.qty) for key, f in fills] == [(2, D("1")), (3, D("0.5"))]
    asks = [_order(4, "SELL", "102"), _order(5, "SELL", "101")]
    fills = match_trades(asks, [AggTrade(11, D("103"), D("1"), False, 1)])
    assert [key for key, _ in fills] == [5]


def test_an_order_that_cannot_take_a_trade_does_not_stop_the_next_one_from_taking_it():
    done = _order(1, "BUY", "101", qty="0")
    too_new = _order(2, "BUY", "101", after=10)
    away = _order(3, "BUY", "98")
    fills = match_trades([done, too_new, away, _order(4, "BUY", "100")], [AggTrade(10, D("99"), D("1"), True, 1)])
    assert [(key, f.qty) for key, f in fills] == [(4, D("1"))]


def test_a_trade_used_up_by_one_sides_queue_still_fills_the_other_side():
    queued = _order(1, "BUY", "100", queue="5")
    ask = _order(2, "SELL", "99")
    fills = match_trades([queued, ask], [AggTrade(10, D("100"), D("1"), True, 7)])
    assert [(key, f.price, f.qty) for key, f in fills] == [(2, D("99"), D("1"))]
    assert queued.queue_ahead == D("4")
    assert fills[0][1].receipt == {"source": "aggTrade", "aggTradeId": 10, "tradePrice": "100", "tradeQty": "1", "tradeTime": 7}


@pytest.mark.parametrize(("order_type", "side", "price", "expected"), [
    ("STOP_LOSS", "SELL", "95", True), ("STOP_LOSS", "SELL", "94", True), ("STOP_LOSS", "SELL", "96", False),
    ("STOP_LOSS_LIMIT", "BUY", "95", True), ("STOP_LOSS_LIMIT", "BUY", "96", True), ("STOP_LOSS_LIMIT", "BUY", "94", False),
    ("TAKE_PROFIT", "SELL", "95", True), ("TAKE_PROFIT", "SELL", "96", True), ("TAKE_PROFIT", "SELL", "94", False),
    ("TAKE_PROFIT_LIMIT", "BUY", "95", True), ("TAKE_PROFIT_LIMIT", "BUY", "94", True), ("TAKE_PROFIT_LIMIT", "BUY", "96", False),
    ("LIMIT", "BUY", "95", False), ("MARKET", "SELL", "1", False),
])
def test_stops_trigger_at_or_through_their_price_in_the_documented_direction(order_type, side, price, expected):
    assert stop_triggered(order_type, side, D("95"), D(price)) is expected


def test_a_stop_never_triggers_on_the_trade_it_was_placed_after():
    trades = [AggTrade(5, D("90"), D("1"), True, 1), AggTrade(6, D("91"), D("1"), True, 1)]
    assert first_trigger("STOP_LOSS", "SELL", D("95"), 5, trades).id == 6
    assert first_trigger("STOP_LOSS", "SELL", D("95"), 6, trades) is None


def test_a_filled_order_with_a_queue_left_takes_nothing_from_the_next_order():
    done = _order(1, "BUY", "100", qty="0", queue="1")
    fills = match_trades([done, _order(2, "BUY", "100")], [AggTrade(10, D("100"), D("1"), True, 1)])
    assert [(key, f.qty) for key, f in fills] == [(2, D("1"))]


def test_a_bid_the_trade_does_not_reach_does_not_keep_an_ask_from_filling():
    fills = match_trades([_order(1, "BUY", "98"), _order(2, "SELL", "99")], [AggTrade(10, D("100"), D("1"), False, 1)])
    assert [(key, f.price) for key, f in fills] == [(2, D("99"))]


def test_a_quote_walk_goes_on_to_the_next_level_with_less_than_one_unit_of_quote_left():
    levels = [Level(D("1"), D("10")), Level(D("1"), D("10"))]
    fills = walk_book("BUY", levels, quote_quantity=D("10.5"), step=D("0.1"))
    assert [(f.price, f.qty) for f in fills] == [(D("1"), D("10")), (D("1"), D("0.5"))]
