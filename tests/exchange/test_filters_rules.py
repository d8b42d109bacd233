"""Filter rules a wrong change could flip without another test noticing."""

from __future__ import annotations

from decimal import Decimal

from tests.exchange.test_filters import lot_size, market, passes, price_filter, rejected, symbol


def test_missing_apply_to_market_flags_mean_false() -> None:
    bare = symbol({"filterType": "NOTIONAL", "minNotional": "5", "maxNotional": "100"})
    assert passes(market("0.001"), bare, avg_price=Decimal("600"))  # 0.6 < 5, but not applied to MARKET
    assert passes(market("1"), bare, avg_price=Decimal("600"))  # 600 > 100, but not applied to MARKET
    old = symbol({"filterType": "MIN_NOTIONAL", "minNotional": "5"})
    assert passes(market("0.001"), old, avg_price=Decimal("600"))
    applied = symbol({"filterType": "MIN_NOTIONAL", "minNotional": "5", "applyToMarket": True})
    assert rejected(market("0.001"), applied, avg_price=Decimal("600")).filter_type == "MIN_NOTIONAL"


def test_trailing_delta_side_mapping_for_take_profit() -> None:
    info = symbol({"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
                   "minTrailingBelowDelta": 200, "maxTrailingBelowDelta": 1000})
    order = {"symbol": "BNBUSDT", "quantity": "1", "trailingDelta": "100"}
    for order_type in ("TAKE_PROFIT", "TAKE_PROFIT_LIMIT"):
        # SELL take-profit trails above the market; BUY take-profit below it
        assert passes({**order, "type": order_type, "side": "SELL", "price": "600"}, info)
        assert rejected({**order, "type": order_type, "side": "BUY", "price": "600"}, info).suggestions == ("200",)
    for order_type in ("STOP_LOSS", "STOP_LOSS_LIMIT"):
        assert passes({**order, "type": order_type, "side": "BUY", "price": "600"}, info)
        assert rejected({**order, "type": order_type, "side": "SELL", "price": "600"}, info).filter_type == "TRAILING_DELTA"


def test_a_pegged_orders_ignored_price_is_not_used_for_the_notional() -> None:
    info = symbol({"filterType": "NOTIONAL", "minNotional": "5", "maxNotional": "100000"})
    pegged = {"symbol": "BNBUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "1",
              "price": "0.001", "pegPriceType": "PRIMARY_PEG"}
    assert passes(pegged, info)
    unpegged = {k: v for k, v in pegged.items() if k != "pegPriceType"}
    assert rejected(unpegged, info).filter_type == "NOTIONAL"


def test_the_below_leg_of_an_oco_is_checked() -> None:
    info = symbol(price_filter(), lot_size())
    oco = {"symbol": "BNBUSDT", "side": "SELL", "quantity": "1", "aboveType": "LIMIT_MAKER", "abovePrice": "700",
           "belowType": "STOP_LOSS_LIMIT", "belowStopPrice": "500", "belowPrice": "499.999", "belowTimeInForce": "GTC"}
    assert rejected(oco, info, tool="place_order_list_oco").parameter == "belowPrice"
    assert passes({**oco, "belowPrice": "499.99"}, info, tool="place_order_list_oco")
