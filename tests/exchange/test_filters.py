"""Unit tests of filters.py: each symbol filter's formula, messages and nearest values, and the cache."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from binance_spot_mcp.errors import ToolInputError
from binance_spot_mcp.exchange.filter_cache import DEFAULT_FILTER_TTL_S, ExchangeInfoCache
from binance_spot_mcp.exchange.filters import FilterRejected, check_order, find_violations, needs_avg_price

D = Decimal


def price_filter(min_price: str = "0.01", max_price: str = "1000000", tick: str = "0.01") -> dict[str, Any]:
    return {"filterType": "PRICE_FILTER", "minPrice": min_price, "maxPrice": max_price, "tickSize": tick}


def lot_size(min_qty: str = "0.001", max_qty: str = "9000", step: str = "0.001", kind: str = "LOT_SIZE") -> dict[str, Any]:
    return {"filterType": kind, "minQty": min_qty, "maxQty": max_qty, "stepSize": step}


def notional(min_n: str = "5", max_n: str = "100000", apply_min: bool = True, apply_max: bool = False) -> dict[str, Any]:
    return {"filterType": "NOTIONAL", "minNotional": min_n, "applyMinToMarket": apply_min,
            "maxNotional": max_n, "applyMaxToMarket": apply_max, "avgPriceMins": 5}


def symbol(*filters: dict[str, Any], name: str = "BNBUSDT") -> dict[str, Any]:
    return {"symbol": name, "status": "TRADING", "filters": list(filters)}


def limit(price: str, quantity: str, **extra: str) -> dict[str, str]:
    return {"symbol": "BNBUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "price": price,
            "quantity": quantity, **extra}


def market(quantity: str | None = None, **extra: str) -> dict[str, str]:
    out = {"symbol": "BNBUSDT", "side": "BUY", "type": "MARKET", **extra}
    if quantity is not None:
        out["quantity"] = quantity
    return out


def rejected(params: dict[str, str], info: dict[str, Any], tool: str = "place_order", **kw: Any) -> FilterRejected:
    with pytest.raises(FilterRejected) as caught:
        check_order(tool, params, info, **kw)
    return caught.value


def passes(params: dict[str, str], info: dict[str, Any], tool: str = "place_order", **kw: Any) -> bool:
    return not find_violations(tool, params, info, **kw)


# ------------------------------------------------------------------ PRICE_FILTER
def test_price_filter_bounds_and_step_are_inclusive() -> None:
    info = symbol(price_filter("0.01", "1000", "0.01"))
    for ok in ("0.01", "1000", "600.05", "600.10000000"):
        assert passes(limit(ok, "1"), info), ok
    for bad in ("0.009", "1000.01", "600.005"):
        assert not passes(limit(bad, "1"), info), bad


def test_price_filter_message_names_both_neighbours() -> None:
    err = rejected(limit("600.005", "1"), symbol(price_filter("0.01", "1000", "0.01")))
    assert err.filter_type == "PRICE_FILTER" and err.parameter == "price"
    assert err.message == "PRICE_FILTER: price must be a multiple of 0.01 from 0.01 to 1000; 600.005 -> 600 or 600.01"
    assert err.suggestions == ("600", "600.01")


def test_price_filter_half_tick_steps() -> None:
    info = symbol(price_filter("0.0005", "10", "0.0005"))
    assert passes(limit("1.0005", "1"), info)
    assert passes(limit("1.001", "1"), info)
    err = rejected(limit("1.0007", "1"), info)
    assert err.suggestions == ("1.0005", "1.001")


def test_price_filter_min_price_off_the_tick_grid_follows_the_docs_formula() -> None:
    # filters.md: price >= minPrice and price % tickSize == 0 (not (price - minPrice) % tickSize).
    info = symbol(price_filter("0.0003", "10", "0.0005"))
    assert passes(limit("0.0005", "1"), info)
    assert not passes(limit("0.0003", "1"), info)  # equal to minPrice, but not on the tick grid
    err = rejected(limit("0.0001", "1"), info)
    assert err.suggestions == ("0.0005",)  # the smallest valid price: on the grid and >= minPrice


def test_price_filter_clamps_suggestions_to_min_and_max() -> None:
    info = symbol(price_filter("1", "100", "0.5"))
    assert rejected(limit("0.3", "1"), info).suggestions == ("1",)
    assert rejected(limit("250.25", "1"), info).suggestions == ("100",)


def test_price_filter_zero_disables_each_rule() -> None:
    assert passes(limit("0.000001", "1"), symbol(price_filter("0", "0", "0.000001")))
    assert passes(limit("123456789.123", "1"), symbol(price_filter("0", "0", "0")))
    err = rejected(limit("1.23", "1"), symbol(price_filter("0", "0", "0.1")))
    assert err.message == "PRICE_FILTER: price must be a multiple of 0.1; 1.23 -> 1.2 or 1.3"


def test_price_filter_applies_to_stop_price() -> None:
    params = {"symbol": "BNBUSDT", "side": "SELL", "type": "STOP_LOSS", "quantity": "1", "stopPrice": "550.001"}
    err = rejected(params, symbol(price_filter()))
    assert err.parameter == "stopPrice"


def test_pegged_order_price_is_not_checked() -> None:
    assert passes(limit("600.005", "1", pegPriceType="PRIMARY_PEG"), symbol(price_filter(), notional()))


# ------------------------------------------------------------------ LOT_SIZE / MARKET_LOT_SIZE
def test_lot_size_message_of_the_issue() -> None:
    err = rejected(limit("600", "0.0123"), symbol(lot_size("0.001", "9000", "0.001")))
    assert err.message == "LOT_SIZE: quantity must be a multiple of 0.001 from 0.001 to 9000; 0.0123 -> 0.012 or 0.013"
    assert err.parameter == "quantity" and err.filter_type == "LOT_SIZE"


def test_lot_size_boundaries() -> None:
    info = symbol(lot_size("0.001", "9000", "0.001"))
    for ok in ("0.001", "9000", "0.012", "8999.999"):
        assert passes(limit("600", ok), info), ok
    for bad in ("0.0009", "9000.001", "0.0121"):
        assert not passes(limit("600", bad), info), bad
    assert rejected(limit("600", "0.0005"), info).suggestions == ("0.001",)
    assert rejected(limit("600", "9001"), info).suggestions == ("9000",)


def test_lot_size_min_qty_not_on_the_step_grid() -> None:
    info = symbol(lot_size("0.15", "10", "0.1"))
    assert not passes(limit("600", "0.15"), info)  # 0.15 % 0.1 != 0
    assert passes(limit("600", "0.2"), info)
    assert rejected(limit("600", "0.1"), info).suggestions == ("0.2",)


def test_lot_size_applies_to_iceberg_qty() -> None:
    err = rejected(limit("600", "1", icebergQty="0.1005"), symbol(lot_size()))
    assert err.parameter == "icebergQty"
    assert passes(limit("600", "1", icebergQty="0.1"), symbol(lot_size()))


def test_lot_size_applies_to_market_orders_and_market_lot_size_only_to_them() -> None:
    info = symbol(lot_size("0.001", "9000", "0.001"), lot_size("0", "100", "0", kind="MARKET_LOT_SIZE"))
    assert rejected(market("0.0123"), info).filter_type == "LOT_SIZE"
    err = rejected(market("100.001"), info)
    assert err.filter_type == "MARKET_LOT_SIZE"
    assert err.message == "MARKET_LOT_SIZE: quantity must be at most 100; 100.001 -> 100"
    assert passes(market("100"), info)
    assert passes(limit("600", "100.001"), info)


def test_market_lot_size_step() -> None:
    info = symbol(lot_size("0.01", "50", "0.01", kind="MARKET_LOT_SIZE"))
    assert rejected(market("1.005"), info).suggestions == ("1", "1.01")


# ------------------------------------------------------------------ MIN_NOTIONAL / NOTIONAL
def test_notional_limit_order_boundaries() -> None:
    info = symbol(lot_size(), notional("5", "1000"))
    assert passes(limit("500", "0.01"), info)  # exactly 5
    assert passes(limit("500", "2"), info)  # exactly 1000
    err = rejected(limit("500", "0.009"), info)
    assert err.filter_type == "NOTIONAL" and err.parameter == "quantity"
    assert err.message == "NOTIONAL: notional (price * quantity) must be at least 5; 500 * 0.009 = 4.5 -> quantity 0.01"
    err = rejected(limit("500", "2.001"), info)
    assert err.suggestions == ("2",)


def test_notional_suggestion_rounds_up_to_the_step() -> None:
    err = rejected(limit("3", "1"), symbol(lot_size(), notional("10")))
    assert err.suggestions == ("3.334",)  # 3 * 3.333 < 10


def test_notional_market_uses_the_average_price_and_the_apply_flags() -> None:
    info = symbol(lot_size(), notional("5", "1000", apply_min=True, apply_max=False))
    err = rejected(market("0.009"), info, avg_price=D("500"))
    assert "the average price" in err.message and err.suggestions == ("0.01",)
    assert passes(market("0.01"), info, avg_price=D("500"))
    assert passes(market("5"), info, avg_price=D("500"))  # 2500 > max, but applyMaxToMarket is false
    assert not passes(market("5"), symbol(notional("5", "1000", apply_max=True)), avg_price=D("500"))
    assert passes(market("0.009"), symbol(notional("5", apply_min=False)), avg_price=D("500"))


def test_market_notional_is_skipped_without_an_average_price() -> None:
    assert passes(market("0.000001"), symbol(notional("5")))


def test_quote_order_qty_checks_only_the_minimum() -> None:
    info = symbol(lot_size(), notional("5", "1000", apply_min=True, apply_max=True))
    err = rejected(market(quoteOrderQty="4.99"), info)
    assert err.parameter == "quoteOrderQty" and err.suggestions == ("5",)
    assert passes(market(quoteOrderQty="5"), info)
    assert passes(market(quoteOrderQty="5000"), info)  # the real notional may be lower: leave it to Binance


def test_min_notional_apply_to_market() -> None:
    legacy = {"filterType": "MIN_NOTIONAL", "minNotional": "0.0001", "applyToMarket": True, "avgPriceMins": 5}
    info = symbol(legacy)
    assert rejected(limit("0.05", "0.001"), info).filter_type == "MIN_NOTIONAL"
    assert not passes(market("0.001"), info, avg_price=D("0.05"))
    assert passes(market("0.001"), symbol({**legacy, "applyToMarket": False}), avg_price=D("0.05"))
    assert passes(limit("0.05", "0.002"), info)  # exactly 0.0001


def test_stop_loss_without_price_has_no_notional_check() -> None:
    params = {"symbol": "BNBUSDT", "side": "SELL", "type": "STOP_LOSS", "quantity": "0.001", "stopPrice": "500"}
    assert passes(params, symbol(notional("5")), avg_price=D("600"))


# ------------------------------------------------------------------ PERCENT_PRICE(_BY_SIDE)
BY_SIDE = {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "1.2", "bidMultiplierDown": "0.2",
           "askMultiplierUp": "5", "askMultiplierDown": "0.8", "avgPriceMins": 1}


def test_percent_price_by_side_uses_the_side_multipliers() -> None:
    info = symbol(price_filter(), BY_SIDE)
    avg = D("100")
    assert passes(limit("120", "1"), info, avg_price=avg)  # exactly avg * bidMultiplierUp
    assert passes(limit("20", "1"), info, avg_price=avg)
    err = rejected(limit("120.01", "1"), info, avg_price=avg)
    assert err.filter_type == "PERCENT_PRICE_BY_SIDE" and err.suggestions == ("120",)
    sell = {**limit("120.01", "1"), "side": "SELL"}
    assert passes(sell, info, avg_price=avg)
    assert rejected({**sell, "price": "79.99"}, info, avg_price=avg).suggestions == ("80",)


def test_percent_price_suggestion_is_on_the_tick_grid() -> None:
    info = symbol(price_filter(tick="0.5"), BY_SIDE)
    err = rejected(limit("200", "1"), info, avg_price=D("100.3"))  # up to 120.36
    assert err.suggestions == ("120",)


def test_percent_price_needs_the_average_price() -> None:
    assert passes(limit("1000", "1"), symbol(BY_SIDE))


def test_percent_price() -> None:
    info = symbol({"filterType": "PERCENT_PRICE", "multiplierUp": "1.3", "multiplierDown": "0.7", "avgPriceMins": 5})
    assert passes(limit("130", "1"), info, avg_price=D("100"))
    assert rejected(limit("69", "1"), info, avg_price=D("100")).filter_type == "PERCENT_PRICE"


# ------------------------------------------------------------------ ICEBERG_PARTS, TRAILING_DELTA, MAX_NUM_ORDERS
def test_iceberg_parts_uses_ceil() -> None:
    info = symbol(lot_size(), {"filterType": "ICEBERG_PARTS", "limit": 10})
    assert passes(limit("600", "1", icebergQty="0.1"), info)  # exactly 10 parts
    assert passes(limit("600", "0.999", icebergQty="0.1"), info)  # ceil(9.99) = 10
    err = rejected(limit("600", "1.001", icebergQty="0.1"), info)  # ceil(10.01) = 11
    assert err.filter_type == "ICEBERG_PARTS" and err.parameter == "icebergQty"
    assert err.suggestions == ("0.101",)
    assert "= 11" in err.message


def test_trailing_delta_above_and_below() -> None:
    info = symbol({"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
                   "minTrailingBelowDelta": 20, "maxTrailingBelowDelta": 1000})
    above = {"symbol": "BNBUSDT", "side": "BUY", "type": "STOP_LOSS", "quantity": "1", "trailingDelta": "10"}
    assert passes(above, info)
    below = {**above, "side": "SELL"}
    err = rejected(below, info)
    assert err.filter_type == "TRAILING_DELTA" and err.suggestions == ("20",)
    assert not passes({**above, "trailingDelta": "2001"}, info)


def test_max_num_orders_only_when_the_count_is_known() -> None:
    info = symbol({"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200})
    assert passes(limit("600", "1"), info)
    assert passes(limit("600", "1"), info, open_orders=199)
    err = rejected(limit("600", "1"), info, open_orders=200)
    assert err.filter_type == "MAX_NUM_ORDERS" and "200" in err.message


# ------------------------------------------------------------------ shape, tools, skipping
def test_error_shape() -> None:
    err = rejected(limit("600", "0.0123"), symbol(lot_size()))
    assert isinstance(err, ToolInputError)
    out = err.to_dict()
    assert out["error"] == "filter_rejected" and out["filter"] == "LOT_SIZE"
    assert out["parameter"] == "quantity" and out["suggestions"] == ["0.012", "0.013"]
    assert "Nothing was sent" in out["hint"]


def test_every_violation_is_reported_first_one_leads() -> None:
    err = rejected(limit("600.005", "0.0123"), symbol(price_filter(), lot_size(), notional("10")))
    assert err.filter_type == "PRICE_FILTER"
    assert [v.filter_type for v in err.violations] == ["PRICE_FILTER", "LOT_SIZE", "NOTIONAL"]
    assert "Also LOT_SIZE" in err.message


def test_unparseable_values_unknown_tools_and_other_symbols_are_left_to_binance() -> None:
    info = symbol(price_filter(), lot_size())
    assert passes(limit("abc", "1e400000"), info)
    assert passes(limit("600.005", "0.0123"), info, tool="get_order")
    assert passes({**limit("600.005", "0.0123"), "symbol": "ETHUSDT"}, info)


def test_a_whole_exchange_info_reply_is_accepted() -> None:
    reply = {"timezone": "UTC", "symbols": [symbol(lot_size(), name="ETHUSDT"), symbol(lot_size("1", "9", "1"))]}
    assert rejected(limit("600", "0.5"), reply).suggestions == ("1",)


def test_sor_test_and_cancel_replace_tools() -> None:
    info = symbol(lot_size())
    for tool in ("test_order", "place_sor_order", "test_sor_order", "cancel_replace_order"):
        params = {**limit("600", "0.0123"), "cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrderId": "1"}
        assert rejected(params, info, tool=tool).filter_type == "LOT_SIZE", tool


def test_order_list_legs_name_their_own_parameters() -> None:
    info = symbol(price_filter(), lot_size())
    oco = {"symbol": "BNBUSDT", "side": "SELL", "quantity": "1", "aboveType": "LIMIT_MAKER", "abovePrice": "700.005",
           "belowType": "STOP_LOSS", "belowStopPrice": "500"}
    assert rejected(oco, info, tool="place_order_list_oco").parameter == "abovePrice"
    oto = {"symbol": "BNBUSDT", "workingType": "LIMIT", "workingSide": "BUY", "workingPrice": "600",
           "workingQuantity": "1", "pendingType": "MARKET", "pendingSide": "SELL", "pendingQuantity": "0.0005"}
    assert rejected(oto, info, tool="place_order_list_oto").parameter == "pendingQuantity"
    otoco = {"symbol": "BNBUSDT", "workingType": "LIMIT", "workingSide": "BUY", "workingPrice": "600",
             "workingQuantity": "1", "pendingSide": "SELL", "pendingQuantity": "1",
             "pendingAboveType": "LIMIT_MAKER", "pendingAbovePrice": "700", "pendingBelowType": "STOP_LOSS",
             "pendingBelowStopPrice": "500.001"}
    assert rejected(otoco, info, tool="place_order_list_otoco").parameter == "pendingBelowStopPrice"
    old = {"symbol": "BNBUSDT", "side": "SELL", "quantity": "1", "price": "700", "stopPrice": "500",
           "stopLimitPrice": "499.999"}
    assert rejected(old, info, tool="place_oco_deprecated").parameter == "stopLimitPrice"
    opo = {"symbol": "BNBUSDT", "workingType": "LIMIT", "workingSide": "BUY", "workingPrice": "600",
           "workingQuantity": "1", "pendingType": "LIMIT", "pendingSide": "SELL", "pendingPrice": "700"}
    assert passes(opo, info, tool="place_order_list_opo")  # no pendingQuantity: quantity checks skipped


def test_needs_avg_price() -> None:
    info = symbol(price_filter(), notional(), BY_SIDE)
    assert needs_avg_price("place_order", market("1"), info)
    assert needs_avg_price("place_order", limit("600", "1"), info)
    assert not needs_avg_price("place_order", market(quoteOrderQty="10"), info)
    assert not needs_avg_price("place_order", limit("600", "1"), symbol(price_filter(), lot_size()))


# ------------------------------------------------------------------ cache
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def reply_for(name: str, step: str = "0.001") -> dict[str, Any]:
    return {"timezone": "UTC", "symbols": [symbol(lot_size(step=step), name=name)]}


@pytest.mark.anyio
async def test_cache_keeps_an_entry_for_the_ttl() -> None:
    clock, calls = Clock(), []

    async def fetch() -> dict[str, Any]:
        calls.append(1)
        return reply_for("BNBUSDT", step=str(len(calls)))

    cache = ExchangeInfoCache(clock=clock)
    assert cache.ttl_s == DEFAULT_FILTER_TTL_S == 300
    first = await cache.get("https://testnet.binance.vision", "BNBUSDT", fetch)
    assert first is not None and first["symbol"] == "BNBUSDT"
    clock.now += DEFAULT_FILTER_TTL_S - 1
    assert await cache.get("https://testnet.binance.vision", "BNBUSDT", fetch) is first
    clock.now += 1
    again = await cache.get("https://testnet.binance.vision", "BNBUSDT", fetch)
    assert len(calls) == 2 and again is not None and again["filters"][0]["stepSize"] == "2"


@pytest.mark.anyio
async def test_cache_is_per_environment_and_symbol() -> None:
    calls: list[str] = []

    def fetcher(name: str):
        async def fetch() -> dict[str, Any]:
            calls.append(name)
            return reply_for(name)
        return fetch

    cache = ExchangeInfoCache(clock=Clock())
    await cache.get("https://api.binance.com", "BNBUSDT", fetcher("BNBUSDT"))
    await cache.get("https://testnet.binance.vision", "BNBUSDT", fetcher("BNBUSDT"))
    await cache.get("https://testnet.binance.vision", "ETHUSDT", fetcher("ETHUSDT"))
    await cache.get("https://testnet.binance.vision", "ETHUSDT", fetcher("ETHUSDT"))
    assert calls == ["BNBUSDT", "BNBUSDT", "ETHUSDT"]
    cache.invalidate("https://testnet.binance.vision")
    await cache.get("https://api.binance.com", "BNBUSDT", fetcher("BNBUSDT"))
    await cache.get("https://testnet.binance.vision", "ETHUSDT", fetcher("ETHUSDT"))
    assert calls == ["BNBUSDT", "BNBUSDT", "ETHUSDT", "ETHUSDT"]


@pytest.mark.anyio
async def test_concurrent_callers_share_one_fetch() -> None:
    release, calls, results = anyio.Event(), [], []

    async def fetch() -> dict[str, Any]:
        calls.append(1)
        await release.wait()
        return reply_for("BNBUSDT")

    cache = ExchangeInfoCache(clock=Clock())

    async def caller() -> None:
        results.append(await cache.get("u", "BNBUSDT", fetch))

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(caller)
        await wait_all_tasks_blocked()
        release.set()
    assert len(calls) == 1
    assert len(results) == 20 and all(r is results[0] and r is not None for r in results)


@pytest.mark.anyio
async def test_failed_fetch_gives_none_to_every_waiter_then_retries() -> None:
    release, calls, results = anyio.Event(), [], []
    clock = Clock()

    async def failing() -> dict[str, Any]:
        calls.append(1)
        await release.wait()
        raise ConnectionError("down")

    cache = ExchangeInfoCache(clock=clock)

    async def caller() -> None:
        results.append(await cache.get("u", "BNBUSDT", failing))

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(caller)
        await wait_all_tasks_blocked()
        release.set()
    assert results == [None] * 5 and len(calls) == 1

    async def working() -> dict[str, Any]:
        return reply_for("BNBUSDT")

    clock.now += 1
    assert await cache.get("u", "BNBUSDT", working) is not None


@pytest.mark.anyio
async def test_reply_without_the_symbol_gives_none() -> None:
    async def fetch() -> dict[str, Any]:
        return {"code": -1121, "msg": "Invalid symbol."}

    assert await ExchangeInfoCache(clock=Clock()).get("u", "NOPE", fetch) is None


# ------------------------------------------------------------------ suggestions pass every filter
def test_a_suggestion_passes_every_checked_filter_not_only_its_own() -> None:
    """quantity 1e-8 on LOT_SIZE(min 0.00001): 0.00001 is LOT_SIZE's nearest value, but at 65000 it is a
    notional of 0.65, under the minimum of 5; the suggestion must be one that passes both (issue 11)."""
    info = symbol(price_filter(), lot_size("0.00001", "9000", "0.00001"), notional("5", "100000"))
    err = rejected(limit("65000", "0.00000001"), info)
    assert err.filter_type == "LOT_SIZE" and err.parameter == "quantity"
    assert err.suggestions == ("0.00008",)  # 65000 * 0.00008 = 5.2 >= 5; 0.00007 would be 4.55
    assert passes(limit("65000", err.suggestions[0]), info)
    assert "0.00000001 -> 0.00008" in err.message and "passes every filter" in err.message
    assert "NOTIONAL" in err.message  # the other broken filter is still named


def test_suggestions_that_already_pass_are_kept_unchanged() -> None:
    info = symbol(price_filter("0.01", "1000", "0.01"))
    err = rejected(limit("600.005", "1"), info)
    assert err.suggestions == ("600", "600.01") and "passes every filter" not in err.message


def test_no_suggestion_rather_than_a_wrong_one() -> None:
    # the only values LOT_SIZE allows (at most 0.002) can never reach a notional of 1000 at price 10
    info = symbol(price_filter(), lot_size("0.001", "0.002", "0.001"), notional("1000", "100000"))
    err = rejected(limit("10", "0.0005"), info)
    assert err.filter_type == "LOT_SIZE" and err.suggestions == ()
    assert "no nearby value passes every filter" in err.message and "suggestions" not in err.to_dict()
