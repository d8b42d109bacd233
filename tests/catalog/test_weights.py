"""Request weights: SKILL.md's Weight rules give Binance's documented weights (rest-api.md)."""

from __future__ import annotations

import json

import pytest

from binance_spot_mcp.catalog.endpoints import load_catalog, parse_skill
from binance_spot_mcp.errors import CatalogError
from tests.mini_skill import MINI_SKILL


def symbols(n: int) -> str:
    return json.dumps([f"S{i}USDT" for i in range(n)], separators=(",", ":"))


def weight(tool: str, **params: str) -> int:
    endpoint = load_catalog().get(tool)
    assert endpoint is not None
    return endpoint.weight_for(params)


def test_every_endpoint_has_a_rule_and_order_count() -> None:
    catalog = load_catalog()
    assert len(catalog.endpoints) == 48
    for endpoint in catalog.endpoints:
        assert endpoint.weight_for({}) >= 1
    orders = {e.tool: e.orders for e in catalog.endpoints if e.orders}
    assert orders == {
        "place_order": 1,
        "cancel_replace_order": 1,
        "place_oco_deprecated": 2,
        "place_order_list_oco": 2,
        "place_order_list_oto": 2,
        "place_order_list_otoco": 3,
        "place_order_list_opo": 2,
        "place_order_list_opoco": 3,
        "place_sor_order": 1,
    }


@pytest.mark.parametrize(
    ("tool", "params", "expected"),
    [
        ("ping", {}, 1),
        ("get_server_time", {}, 1),
        ("get_exchange_info", {"symbols": symbols(3)}, 20),
        # executionRules: 2 for symbol, 2 per symbol capped at 40, 40 for symbolStatus or nothing
        ("get_execution_rules", {"symbol": "BTCUSDT"}, 2),
        ("get_execution_rules", {"symbols": symbols(7)}, 14),
        ("get_execution_rules", {"symbols": symbols(20)}, 40),
        ("get_execution_rules", {"symbols": symbols(30)}, 40),
        ("get_execution_rules", {"symbolStatus": "TRADING"}, 40),
        ("get_execution_rules", {}, 40),
        # depth: 1-100 -> 5, 101-500 -> 25, 501-1000 -> 50, 1001-5000 -> 250; default limit 100
        ("get_order_book", {"symbol": "BTCUSDT"}, 5),
        ("get_order_book", {"symbol": "BTCUSDT", "limit": "1"}, 5),
        ("get_order_book", {"symbol": "BTCUSDT", "limit": "100"}, 5),
        ("get_order_book", {"symbol": "BTCUSDT", "limit": "101"}, 25),
        ("get_order_book", {"symbol": "BTCUSDT", "limit": "500"}, 25),
        ("get_order_book", {"symbol": "BTCUSDT", "limit": "501"}, 50),
        ("get_order_book", {"symbol": "BTCUSDT", "limit": "1000"}, 50),
        ("get_order_book", {"symbol": "BTCUSDT", "limit": "1001"}, 250),
        ("get_order_book", {"symbol": "BTCUSDT", "limit": "5000"}, 250),
        ("get_recent_trades", {"symbol": "BTCUSDT"}, 25),
        ("get_historical_trades", {"symbol": "BTCUSDT"}, 25),
        ("get_historical_block_trades", {"symbol": "BTCUSDT", "fromId": "1"}, 25),
        ("get_agg_trades", {"symbol": "BTCUSDT"}, 4),
        ("get_klines", {"symbol": "BTCUSDT", "interval": "1m"}, 2),
        ("get_ui_klines", {"symbol": "BTCUSDT", "interval": "1m"}, 2),
        ("get_avg_price", {"symbol": "BTCUSDT"}, 2),
        # 24hr: symbol 2; symbols 1-20 -> 2, 21-100 -> 40, 101+ -> 80; neither -> 80
        ("get_ticker_24hr", {"symbol": "BTCUSDT"}, 2),
        ("get_ticker_24hr", {"symbols": symbols(1)}, 2),
        ("get_ticker_24hr", {"symbols": symbols(20)}, 2),
        ("get_ticker_24hr", {"symbols": symbols(21)}, 40),
        ("get_ticker_24hr", {"symbols": symbols(100)}, 40),
        ("get_ticker_24hr", {"symbols": symbols(101)}, 80),
        ("get_ticker_24hr", {}, 80),
        # tradingDay / rolling window: 4 per symbol, 200 once more than 50 symbols
        ("get_ticker_trading_day", {"symbol": "BTCUSDT"}, 4),
        ("get_ticker_trading_day", {"symbols": symbols(3)}, 12),
        ("get_ticker_trading_day", {"symbols": symbols(50)}, 200),
        ("get_ticker_trading_day", {"symbols": symbols(51)}, 200),
        ("get_ticker_trading_day", {"symbols": symbols(100)}, 200),
        ("get_ticker_rolling_window", {"symbol": "BTCUSDT", "windowSize": "1d"}, 4),
        ("get_ticker_rolling_window", {"symbols": symbols(10)}, 40),
        ("get_ticker_rolling_window", {"symbols": symbols(80)}, 200),
        # price / bookTicker: symbol 2, otherwise 4
        ("get_ticker_price", {"symbol": "BTCUSDT"}, 2),
        ("get_ticker_price", {"symbols": symbols(50)}, 4),
        ("get_ticker_price", {}, 4),
        ("get_book_ticker", {"symbol": "BTCUSDT"}, 2),
        ("get_book_ticker", {}, 4),
        ("get_reference_price", {"symbol": "BTCUSDT"}, 2),
        ("get_reference_price_calculation", {"symbol": "BTCUSDT"}, 2),
        ("place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"}, 1),
        # order/test: 20 with computeCommissionRates=true, else 1
        ("test_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"}, 1),
        ("test_order", {"symbol": "BTCUSDT", "computeCommissionRates": "true"}, 20),
        ("test_order", {"symbol": "BTCUSDT", "computeCommissionRates": "false"}, 1),
        ("test_sor_order", {"symbol": "BTCUSDT", "computeCommissionRates": "true"}, 20),
        ("test_sor_order", {"symbol": "BTCUSDT"}, 1),
        ("cancel_order", {"symbol": "BTCUSDT", "orderId": "1"}, 1),
        ("cancel_open_orders", {"symbol": "BTCUSDT"}, 1),
        ("cancel_replace_order", {"symbol": "BTCUSDT"}, 1),
        ("amend_order_keep_priority", {"symbol": "BTCUSDT", "newQty": "1"}, 4),
        ("place_order_list_otoco", {"symbol": "BTCUSDT"}, 1),
        ("cancel_order_list", {"symbol": "BTCUSDT"}, 1),
        ("get_account", {}, 20),
        ("get_order", {"symbol": "BTCUSDT", "orderId": "1"}, 4),
        # openOrders: 6 for one symbol, 80 without
        ("get_open_orders", {"symbol": "BTCUSDT"}, 6),
        ("get_open_orders", {}, 80),
        ("get_all_orders", {"symbol": "BTCUSDT"}, 20),
        ("get_order_list", {"orderListId": "1"}, 4),
        ("get_all_order_lists", {}, 20),
        ("get_open_order_lists", {}, 6),
        # myTrades: 5 with orderId, 20 without
        ("get_my_trades", {"symbol": "BTCUSDT"}, 20),
        ("get_my_trades", {"symbol": "BTCUSDT", "orderId": "7"}, 5),
        ("get_unfilled_order_count", {}, 40),
        # myPreventedMatches: 2 by preventedMatchId, 20 by orderId
        ("get_prevented_matches", {"symbol": "BTCUSDT", "preventedMatchId": "1"}, 2),
        ("get_prevented_matches", {"symbol": "BTCUSDT", "orderId": "1"}, 20),
        ("get_allocations", {"symbol": "BTCUSDT"}, 20),
        ("get_commission_rates", {"symbol": "BTCUSDT"}, 20),
        ("get_order_amendments", {"symbol": "BTCUSDT", "orderId": "1"}, 4),
        ("get_my_filters", {"symbol": "BTCUSDT"}, 40),
    ],
)
def test_weight_matches_rest_api_md(tool: str, params: dict[str, str], expected: int) -> None:
    assert weight(tool, **params) == expected


def test_weight_for_accepts_parameter_pairs_and_odd_values() -> None:
    depth = load_catalog().get("get_order_book")
    assert depth is not None
    assert depth.weight_for([("symbol", "BTCUSDT"), ("limit", "600")]) == 50
    # an unreadable number falls through to the heaviest clause
    assert depth.weight_for({"symbol": "BTCUSDT", "limit": "lots"}) == 250
    ticker = load_catalog().get("get_ticker_24hr")
    assert ticker is not None
    assert ticker.weight_for({"symbols": "[]"}) == 80  # an empty array counts as not given
    assert ticker.weight_for({"symbols": '["A", "B"]'}) == 2


MINI_ROW = "| `get_order_book` | market | GET | `/api/v3/depth` | Get the order book. | symbol | limit | NONE | 5 |"


def mini_with_weight(cell: str) -> str:
    assert MINI_ROW in MINI_SKILL
    return MINI_SKILL.replace(MINI_ROW, MINI_ROW.replace("| NONE | 5 |", f"| NONE | {cell} |"))


def line_of_row(text: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if "`get_order_book`" in line)


def test_mini_skill_rule_parses() -> None:
    catalog = parse_skill(mini_with_weight("`5 if !limit; 5 if limit<=100; 25 if limit>100; 250`"))
    depth = catalog.get("get_order_book")
    assert depth is not None
    assert depth.weight_for({"limit": "300"}) == 25
    assert depth.orders == 0  # no Orders column in the mini skill


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        ("", "empty"),
        ("five", "cannot read weight clause"),
        ("5 if limit<=100", "last weight clause"),
        ("5; 25", "has no condition"),
        ("5 if depth; 25", "not a parameter of this tool"),
        ("5 if limit=~3; 25", "cannot read the condition"),
        ("5 if symbol<=3; 25", "not a number or array"),
        ("2*symbol", "needs a string[] parameter"),
        ("2*symbols", "not a parameter of this tool"),
        ("-1", "cannot read weight clause"),
    ],
)
def test_malformed_weight_cell_fails_loading_with_its_line(cell: str, problem: str) -> None:
    text = mini_with_weight(cell)
    with pytest.raises(CatalogError) as caught:
        parse_skill(text)
    assert f"SKILL.md line {line_of_row(text)}:" in caught.value.message
    assert problem in caught.value.message


def test_weight_column_is_required() -> None:
    text = MINI_SKILL.replace("| Security | Weight |", "| Security | Cost |")
    with pytest.raises(CatalogError, match="lacks column"):
        parse_skill(text)


def test_orders_column_must_be_a_whole_number() -> None:
    text = (
        MINI_SKILL.replace("| Security | Weight |", "| Security | Weight | Orders |")
        .replace("|----------|--------|", "|----------|--------|--------|")
    )
    lines = []
    for line in text.splitlines():
        if line.startswith("| `"):
            line += " 1 |" if "place_order" in line else " x |" if "get_account" in line else " 0 |"
        lines.append(line)
    with pytest.raises(CatalogError, match="Orders 'x' must be a whole number"):
        parse_skill("\n".join(lines))
