"""Filter checks at the edges mutation testing found unpinned: exact messages and parameters of
each refusal, which orders a filter does not apply to, wire values that are left to Binance, the
suggestions that must pass every filter, and ``needs_avg_price``."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from binance_spot_mcp.exchange.filters import find_violations, needs_avg_price, symbol_entry
from binance_spot_mcp.exchange.order_legs import order_legs
from tests.exchange.test_filters import (
    BY_SIDE,
    limit,
    lot_size,
    market,
    notional,
    passes,
    price_filter,
    rejected,
    symbol,
)

D = Decimal
PERCENT = {"filterType": "PERCENT_PRICE", "multiplierUp": "1.3", "multiplierDown": "0.7", "avgPriceMins": 5}


# ------------------------------------------------------------------ PERCENT_PRICE(_BY_SIDE)
def test_percent_price_by_side_message_names_the_side_the_range_and_the_average() -> None:
    err = rejected(limit("200", "1"), symbol(price_filter(tick="0.5"), BY_SIDE), avg_price=D("100.3"))
    assert err.message == ("PERCENT_PRICE_BY_SIDE: a BUY price must be from 20.06 to 120.36 "
                           "(0.2x to 1.2x the average price 100.3); 200 -> 120")
    assert err.parameter == "price" and err.suggestions == ("120",)


def test_percent_price_message_has_no_side() -> None:
    err = rejected(limit("69", "1"), symbol(PERCENT), avg_price=D("100"))
    assert err.message == "PERCENT_PRICE: a price must be from 70 to 130 (0.7x to 1.3x the average price 100); 69 -> 70"
    assert err.parameter == "price"


def test_percent_price_without_a_price_filter_suggests_the_exact_bound() -> None:
    err = rejected(limit("200", "1"), symbol(BY_SIDE), avg_price=D("100.3"))
    assert err.suggestions == ("120.36",)


def test_percent_price_skips_pegged_and_market_orders_and_a_zero_average() -> None:
    info = symbol(BY_SIDE)
    assert passes(limit("1000", "1", pegPriceType="PRIMARY_PEG"), info, avg_price=D("100"))
    assert passes(market("1", price="1000"), info, avg_price=D("100"))
    assert passes(limit("1000", "1"), info, avg_price=D("0"))  # no average price known


def test_a_leg_of_an_order_list_names_its_own_price() -> None:
    oco = {"symbol": "BNBUSDT", "side": "BUY", "quantity": "1", "aboveType": "STOP_LOSS_LIMIT",
           "aboveStopPrice": "130", "abovePrice": "130", "belowType": "LIMIT_MAKER", "belowPrice": "90"}
    err = rejected(oco, symbol(BY_SIDE), tool="place_order_list_oco", avg_price=D("100"))
    assert err.parameter == "abovePrice"
    assert err.message.startswith("PERCENT_PRICE_BY_SIDE: a BUY abovePrice must be from 20 to 120 ")


# ------------------------------------------------------------------ PRICE_FILTER, LOT_SIZE, TRAILING_DELTA
def test_stop_price_bounds_are_checked_and_reported_as_price_filter() -> None:
    base = {"symbol": "BNBUSDT", "side": "SELL", "type": "STOP_LOSS", "quantity": "1"}
    info = symbol(price_filter("1", "1000", "0.01"))
    for bad, fix in (("0.5", "1"), ("1000.5", "1000")):
        err = rejected({**base, "stopPrice": bad}, info)
        assert err.filter_type == "PRICE_FILTER" and err.parameter == "stopPrice" and err.suggestions == (fix,)


def test_a_market_orders_price_is_not_checked_by_price_filter() -> None:
    assert passes(market("1", price="600.005"), symbol(price_filter()))


def test_a_minimum_alone_is_described_as_at_least() -> None:
    err = rejected(limit("0.5", "1"), symbol(price_filter("1", "0", "0")))
    assert err.message == "PRICE_FILTER: price must be at least 1; 0.5 -> 1"


def test_a_single_valid_value_is_suggested() -> None:
    err = rejected(limit("600", "2"), symbol(lot_size("1", "1", "1")))
    assert err.suggestions == ("1",)


def test_market_lot_size_minimum() -> None:
    err = rejected(market("0.5"), symbol(lot_size("1", "100", "0", kind="MARKET_LOT_SIZE")))
    assert err.message == "MARKET_LOT_SIZE: quantity must be from 1 to 100; 0.5 -> 1"


def test_iceberg_qty_is_held_to_lot_size_bounds_and_zero_is_no_iceberg() -> None:
    info = symbol(lot_size("0.01", "10", "0.01"))
    for bad, fix in (("0.005", "0.01"), ("11", "10")):
        err = rejected(limit("600", "1", icebergQty=bad), info)
        assert (err.filter_type, err.parameter, err.suggestions) == ("LOT_SIZE", "icebergQty", (fix,))
    assert passes(limit("600", "1", icebergQty="0"), info)


def test_trailing_delta_message_and_orders_it_does_not_apply_to() -> None:
    info = symbol({"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
                   "minTrailingBelowDelta": 20, "maxTrailingBelowDelta": 1000})
    sell = {"symbol": "BNBUSDT", "side": "SELL", "type": "STOP_LOSS", "quantity": "1", "trailingDelta": "10"}
    err = rejected(sell, info)
    assert err.parameter == "trailingDelta"
    assert err.message == "TRAILING_DELTA: trailingDelta must be from 20 to 1000; 10 -> 20"
    assert passes({**sell, "type": "LIMIT", "price": "600"}, info)  # not a stop order: no trailing bounds


# ------------------------------------------------------------------ NOTIONAL / MIN_NOTIONAL
def test_notional_maximum_message() -> None:
    err = rejected(limit("500", "2.001"), symbol(lot_size(), notional("5", "1000")))
    assert err.message == ("NOTIONAL: notional (price * quantity) must be at most 1000; "
                           "500 * 2.001 = 1000.5 -> quantity 2")
    assert err.parameter == "quantity" and err.filter_type == "NOTIONAL"


def test_notional_maximum_alone() -> None:
    assert rejected(limit("500", "3"), symbol(notional("0", "1000"))).suggestions == ("2",)


def test_market_notional_message_names_the_average_price() -> None:
    err = rejected(market("0.009"), symbol(lot_size(), notional("5", "1000")), avg_price=D("500"))
    assert err.message == ("NOTIONAL: notional (the average price * quantity) must be at least 5; "
                           "500 * 0.009 = 4.5 -> quantity 0.01")


def test_quote_order_qty_message() -> None:
    err = rejected(market(quoteOrderQty="4.99"), symbol(notional("5", "1000")))
    assert err.message == "NOTIONAL: quoteOrderQty must be at least 5; 4.99 -> 5"
    assert err.filter_type == "NOTIONAL"


def test_notional_suggestion_without_lot_size_is_the_exact_quantity() -> None:
    assert rejected(limit("4", "1"), symbol(notional("10"))).suggestions == ("2.5",)


def test_min_notional_has_no_maximum() -> None:
    legacy = {"filterType": "MIN_NOTIONAL", "minNotional": "5", "maxNotional": "10", "applyToMarket": True}
    assert passes(limit("500", "1"), symbol(legacy))


def test_apply_to_market_flags_given_as_text() -> None:
    for text, applied in ((" TRUE ", True), ("true", True), ("false", False)):
        info = symbol({"filterType": "NOTIONAL", "minNotional": "5", "applyMinToMarket": text, "maxNotional": "0"})
        assert passes(market("0.001"), info, avg_price=D("600")) is not applied, text


# ------------------------------------------------------------------ wire values
def test_values_binance_would_refuse_for_other_reasons_are_left_to_it() -> None:
    info = symbol(lot_size("0.001", "9000", "0.001"))
    assert passes(limit("600", "-1"), info)  # negative
    assert passes(limit("600", "1e41"), info)  # more than 40 integer digits
    assert passes(limit("600", "1e-41"), info)  # more than 40 fraction digits
    assert not passes(limit("600", "1e40"), info)
    assert not passes(limit("600", "1e-40"), info)
    assert not passes(limit("600", "0"), info)
    assert passes(limit("600", "1"), symbol({**lot_size(), "stepSize": 0.3}))  # a float bound is not trusted


def test_negative_zero_is_shown_as_zero() -> None:
    err = rejected(limit("600", "-0"), symbol(lot_size()))
    assert err.message.endswith("; 0 -> 0.001")


# ------------------------------------------------------------------ several filters, suggestions
def test_max_num_orders_message_hint_and_parameter() -> None:
    info = symbol({"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200}, lot_size())
    err = rejected(limit("600", "1"), info, open_orders=200)
    assert err.message == ("MAX_NUM_ORDERS: at most 200 open orders are allowed on BNBUSDT, and the account has "
                           "200; cancel an open order first")
    assert err.parameter == "symbol" and err.violations == (err,)
    hint = "Nothing was sent. Cancel an open order on this symbol (cancel_order) and try again."
    assert err.hint == hint
    both = rejected(limit("600", "0.0123"), info, open_orders=200)  # the filters after it are still checked
    assert [v.filter_type for v in both.violations] == ["MAX_NUM_ORDERS", "LOT_SIZE"]
    assert both.hint == hint


def test_filters_we_do_not_check_do_not_stop_the_others() -> None:
    info = symbol({"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5}, lot_size())
    assert rejected(limit("600", "0.0123"), info).filter_type == "LOT_SIZE"


def test_every_message_is_listed_after_the_first() -> None:
    err = rejected(limit("600.005", "0.0123"), symbol(price_filter(), lot_size(), notional("10")))
    assert err.message == (
        "PRICE_FILTER: price must be a multiple of 0.01 from 0.01 to 1000000; 600.005 -> 600 or 600.01. "
        "Also LOT_SIZE: quantity must be a multiple of 0.001 from 0.001 to 9000; 0.0123 -> 0.012 or 0.013; "
        "NOTIONAL: notional (price * quantity) must be at least 10; 600.005 * 0.0123 = 7.3800615 -> quantity 0.017"
    )


def test_two_suggestions_replaced_by_the_one_that_passes_every_filter() -> None:
    info = symbol(price_filter(), lot_size("0.00001", "9000", "0.00001"), notional("5", "100000"))
    err = rejected(limit("65000", "0.000015"), info)
    assert err.suggestions == ("0.00008",)  # 0.00001 and 0.00002 are both under the minimum notional
    assert "0.000015 -> 0.00008 (the nearest value that passes every filter)" in err.message
    assert err.violations[0].suggestions == ("0.00008",)


def test_market_suggestions_are_checked_at_the_average_price() -> None:
    info = symbol(lot_size("0.00001", "9000", "0.00001"), notional("5", "100000"))
    err = rejected(market("0.000015"), info, avg_price=D("65000"))
    assert err.filter_type == "LOT_SIZE" and err.suggestions == ("0.00008",)


# ------------------------------------------------------------------ never our own error
def test_ordinary_orders_never_fall_back_to_skipping_a_check(caplog: pytest.LogCaptureFixture) -> None:
    info = symbol(price_filter(), lot_size(), notional("5", "1000"), BY_SIDE,
                  {"filterType": "PERCENT_PRICE", "multiplierUp": "1.3"},  # incomplete: skipped quietly
                  {"filterType": "ICEBERG_PARTS", "limit": 10}, lot_size(kind="MARKET_LOT_SIZE"))
    orders = [limit("600", "1"), limit("600.005", "0.0005"), market("1"), market(quoteOrderQty="10"),
              limit("600", "1", icebergQty="0"), limit("600", "1", icebergQty="0.5"),
              {"symbol": "BNBUSDT", "side": "SELL", "type": "STOP_LOSS", "quantity": "1", "stopPrice": "500"},
              {"symbol": "BNBUSDT", "side": "BUY", "type": "LIMIT", "pegPriceType": "PRIMARY_PEG", "quantity": "1"}]
    with caplog.at_level(logging.WARNING, logger="binance_spot_mcp.exchange.filters"):
        for order in orders:
            find_violations("place_order", order, info, avg_price=D("600"))
            find_violations("place_order", order, symbol({"filterType": "ICEBERG_PARTS", "limit": 10}))
            find_violations("place_order", order, symbol(notional("0", "0")), avg_price=D("600"))
    assert caplog.records == []


def test_a_check_that_cannot_be_computed_is_skipped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="binance_spot_mcp.exchange.filters"):  # an absurd average price
        assert passes(limit("600", "1"), symbol(price_filter(), BY_SIDE), avg_price=D("1e200"))
    assert [r.getMessage() for r in caplog.records] == [
        "skipped the local PERCENT_PRICE_BY_SIDE check (InvalidOperation)"
    ]


@pytest.mark.parametrize("avg", ["NaN", "sNaN", "Infinity", "-5"])
def test_an_average_price_that_is_not_a_price_is_treated_as_unknown(avg: str) -> None:
    # found by mutation testing: NaN raised decimal.InvalidOperation out of check_order, and
    # Infinity refused every priced order ("600 -> Infinity") -- a false rejection
    info = symbol(price_filter(), notional("5", "1000"), BY_SIDE)
    assert passes(limit("600", "1"), info, avg_price=D(avg))
    assert passes(market("0.0001"), info, avg_price=D(avg))


# ------------------------------------------------------------------ needs_avg_price
def test_needs_avg_price_only_for_this_symbol_order_tools_and_filters_that_use_it() -> None:
    notional_only = symbol({"filterType": "MIN_NOTIONAL", "minNotional": "5", "applyToMarket": True})
    assert needs_avg_price("place_order", market("1"), notional_only)
    assert needs_avg_price("place_order", limit("600", "1"), symbol(PERCENT))
    assert not needs_avg_price("place_order", {**market("1"), "symbol": "ETHUSDT"}, notional_only)
    assert not needs_avg_price("get_order", market("1"), notional_only)
    assert not needs_avg_price("place_order", market("1"), symbol(lot_size()))
    assert not needs_avg_price("place_order", market("1", price="600"), symbol(PERCENT))


def test_order_legs_lists_each_order_of_a_call_with_its_own_parameters() -> None:
    otoco = {"symbol": "BNBUSDT", "workingType": "LIMIT", "workingSide": "BUY", "workingPrice": "600",
             "workingQuantity": "1", "pendingSide": "SELL", "pendingQuantity": "1",
             "pendingAboveType": "LIMIT_MAKER", "pendingAbovePrice": "700", "pendingBelowType": "STOP_LOSS",
             "pendingBelowStopPrice": "500"}
    legs = order_legs("place_order_list_otoco", otoco)
    assert [(leg.type, leg.side, leg.quantity) for leg in legs] == [
        ("LIMIT", "BUY", D("1")), ("LIMIT_MAKER", "SELL", D("1")), ("STOP_LOSS", "SELL", D("1"))]
    assert legs[2].name("stopPrice") == "pendingBelowStopPrice" and legs[2].stop_price == D("500")
    assert order_legs("get_order", otoco) == []


def _leg(leg) -> tuple:  # type: ignore[no-untyped-def]
    def s(v):  # type: ignore[no-untyped-def]
        return None if v is None else str(v)
    return (leg.type, leg.side, s(leg.quantity), s(leg.quote_qty), s(leg.price), s(leg.stop_price),
            s(leg.iceberg_qty), s(leg.trailing_delta), leg.pegged)


@pytest.mark.parametrize("tool", ["place_order", "test_order", "place_sor_order", "test_sor_order",
                                  "cancel_replace_order"])
def test_a_single_order_is_one_leg_with_every_parameter(tool: str) -> None:
    params = {"symbol": "BNBUSDT", "side": "buy", "type": "take_profit_limit", "quantity": "1", "quoteOrderQty": "2",
              "price": "3", "stopPrice": "4", "icebergQty": "5", "trailingDelta": "6", "pegPriceType": "PRIMARY_PEG"}
    assert [_leg(leg) for leg in order_legs(tool, params)] == [
        ("TAKE_PROFIT_LIMIT", "BUY", "1", "2", "3", "4", "5", "6", True)]
    assert [_leg(leg) for leg in order_legs(tool, {"symbol": "BNBUSDT"})] == [
        ("", "", None, None, None, None, None, None, False)]


@pytest.mark.parametrize("stop_limit", [True, False])
def test_the_deprecated_oco_has_a_limit_maker_and_a_stop_leg(stop_limit: bool) -> None:
    params = {"symbol": "BNBUSDT", "side": "sell", "quantity": "1", "price": "700", "stopPrice": "500",
              "limitIcebergQty": "0.1", "stopIcebergQty": "0.2", "trailingDelta": "30", "limitTrailingDelta": "40",
              "stopPegPriceType": "PRIMARY_PEG"}
    if stop_limit:
        params["stopLimitPrice"] = "499"
    limit_leg, stop_leg = order_legs("place_oco_deprecated", params)
    assert _leg(limit_leg) == ("LIMIT_MAKER", "SELL", "1", None, "700", None, "0.1", "40", False)
    assert _leg(stop_leg) == ("STOP_LOSS_LIMIT" if stop_limit else "STOP_LOSS", "SELL", "1", None,
                              "499" if stop_limit else None, "500", "0.2", "30", True)
    assert (limit_leg.name("price"), limit_leg.name("icebergQty")) == ("price", "limitIcebergQty")
    assert (stop_leg.name("price"), stop_leg.name("stopPrice"), stop_leg.name("trailingDelta"),
            stop_leg.name("quantity"), stop_leg.name("side")) == (
        "stopLimitPrice", "stopPrice", "trailingDelta", "quantity", "side")


def test_an_oco_has_an_above_and_a_below_leg_sharing_side_and_quantity() -> None:
    params = {"symbol": "BNBUSDT", "side": "sell", "quantity": "1", "aboveType": "limit_maker", "abovePrice": "700",
              "aboveIcebergQty": "0.1", "belowType": "stop_loss_limit", "belowPrice": "499", "belowStopPrice": "500",
              "belowTrailingDelta": "30", "belowPegPriceType": "PRIMARY_PEG", "quoteOrderQty": "9"}
    above, below = order_legs("place_order_list_oco", params)
    assert _leg(above) == ("LIMIT_MAKER", "SELL", "1", None, "700", None, "0.1", None, False)
    assert _leg(below) == ("STOP_LOSS_LIMIT", "SELL", "1", None, "499", "500", None, "30", True)
    assert (below.name("side"), below.name("quantity"), below.name("stopPrice")) == ("side", "quantity",
                                                                                     "belowStopPrice")


@pytest.mark.parametrize("tool", ["place_order_list_oto", "place_order_list_opo"])
def test_an_oto_has_a_working_and_a_pending_leg_each_with_its_own_side(tool: str) -> None:
    params = {"symbol": "BNBUSDT", "workingType": "LIMIT", "workingSide": "BUY", "workingPrice": "600",
              "workingQuantity": "1", "workingIcebergQty": "0.1", "pendingType": "STOP_LOSS", "pendingSide": "SELL",
              "pendingQuantity": "2", "pendingStopPrice": "500", "pendingTrailingDelta": "30",
              "pendingPegPriceType": "PRIMARY_PEG", "side": "SELL", "quantity": "7"}
    working, pending = order_legs(tool, params)
    assert _leg(working) == ("LIMIT", "BUY", "1", None, "600", None, "0.1", None, False)
    assert _leg(pending) == ("STOP_LOSS", "SELL", "2", None, None, "500", None, "30", True)


@pytest.mark.parametrize("tool", ["place_order_list_otoco", "place_order_list_opoco"])
def test_an_otoco_has_a_working_leg_and_two_pending_legs_sharing_side_and_quantity(tool: str) -> None:
    params = {"symbol": "BNBUSDT", "workingType": "LIMIT", "workingSide": "BUY", "workingPrice": "600",
              "workingQuantity": "1", "pendingSide": "SELL", "pendingQuantity": "2",
              "pendingAboveType": "LIMIT_MAKER", "pendingAbovePrice": "700", "pendingAboveIcebergQty": "0.1",
              "pendingBelowType": "STOP_LOSS_LIMIT", "pendingBelowPrice": "499", "pendingBelowStopPrice": "500",
              "pendingBelowTrailingDelta": "30", "side": "BUY", "quantity": "7"}
    working, above, below = order_legs(tool, params)
    assert _leg(working) == ("LIMIT", "BUY", "1", None, "600", None, None, None, False)
    assert _leg(above) == ("LIMIT_MAKER", "SELL", "2", None, "700", None, "0.1", None, False)
    assert _leg(below) == ("STOP_LOSS_LIMIT", "SELL", "2", None, "499", "500", None, "30", False)
    assert (above.name("side"), above.name("quantity")) == ("pendingSide", "pendingQuantity")


def test_a_bare_symbol_entry_for_another_symbol_is_not_used() -> None:
    entry = symbol(lot_size())
    assert symbol_entry(entry, "BNBUSDT") is entry and symbol_entry(entry, "ETHUSDT") is None
    reply = {"symbols": [symbol(lot_size(), name="ETHUSDT"), entry], "filters": []}
    assert symbol_entry(reply, "BNBUSDT") is entry


def test_iceberg_parts_message_and_iceberg_qty_under_the_lot_minimum() -> None:
    err = rejected(limit("600", "1.001", icebergQty="0.1"), symbol(lot_size(), {"filterType": "ICEBERG_PARTS",
                                                                                 "limit": 10}))
    assert err.message == ("ICEBERG_PARTS: ceil(quantity / icebergQty) must be at most 10; "
                           "ceil(1.001 / 0.1) = 11 -> icebergQty 0.101")
    err = rejected(limit("600", "1", icebergQty="0.02"), symbol(lot_size("0.05", "10", "0.01")))
    assert (err.parameter, err.suggestions) == ("icebergQty", ("0.05",))


def test_suggestions_at_disabled_or_unreachable_bounds() -> None:
    assert rejected(limit("0.3", "1"), symbol(price_filter("0.5", "0", "0"))).suggestions == ("0.5",)  # no tick
    assert rejected(limit("0.6", "1"), symbol(price_filter("0", "0.5", "0.1"))).suggestions == ("0.5",)  # no min
    assert rejected(limit("0.005", "1"), symbol(price_filter("0", "0", "0.01"))).suggestions == ("0.01",)  # never 0
    err = rejected(limit("600", "0.12"), symbol(lot_size("0.15", "0.19", "0.1")))  # no multiple of 0.1 in range
    assert err.message == "LOT_SIZE: quantity must be a multiple of 0.1 from 0.15 to 0.19; 0.12 is not"
    assert err.suggestions == ()
