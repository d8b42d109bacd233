"""get_portfolio end to end: a scripted history on the fake, figures worked out by hand.

``main`` buys 0.5 BTC at 50,000 and 0.3 BTC at 60,000 (fees in BTC), sells 0.4 BTC at 70,000 (fee
in USDT), buys 1 BNB at 600 (fee in BNB, the base), then pays its fees in BNB (0.01 per fill):
buys 2 ETH at 3,000 and sells 0.5 ETH at 3,300. It also holds BNB from a deposit (no trade:
coverage below 100 %), XYZ (only an XYZBTC market: priced through BTC) and NOPE (no market:
unpriced). Every figure below is computed here by hand, in Decimal, in the order the method
defines, and compared to the last digit shown (8 decimals)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

import anyio
import pytest

from tests.e2e_support import memory_client
from tests.portfolio.history import History, list_bridge_only

D = Decimal
CTX = Context(prec=34, rounding=ROUND_HALF_EVEN)
pytestmark = pytest.mark.anyio


def shown(x: Decimal) -> str:
    with localcontext(CTX):
        return f"{x.quantize(D('0.00000001')):f}"


def pct(x: Decimal) -> str:
    with localcontext(CTX):
        return f"{(x * 100).quantize(D('0.01')):f}"


@pytest.fixture
def scripted(world):
    history = History(world, {"USDT": "100000", "BNB": "0.5", "XYZ": "100", "NOPE": "5"})
    list_bridge_only(world)
    history.trade("BTCUSDT", "BUY", "0.5", "50000")
    history.trade("BTCUSDT", "BUY", "0.3", "60000")
    history.trade("BTCUSDT", "SELL", "0.4", "70000")
    history.trade("BNBUSDT", "BUY", "1", "600")
    history.bnb_fees("0.01")
    history.trade("ETHUSDT", "BUY", "2", "3000")
    r1 = history.kline_close("BNBUSDT", history.last_trade_time("ETHUSDT"))
    history.trade("ETHUSDT", "SELL", "0.5", "3300")
    r2 = history.kline_close("BNBUSDT", history.last_trade_time("ETHUSDT"))
    return world, r1, r2


def by_asset(result) -> dict[str, dict]:
    return {row["asset"]: row for row in result.structured_content["assets"]}


def always_sync(runtime) -> None:
    runtime.portfolio_tools.sync_fresh_s = 0  # every call asks Binance for what is new


async def portfolio(world, on_runtime=None, **arguments):
    async with memory_client(world.tools_file, "auto", base_url=world.base_url, on_runtime=on_runtime) as client:
        with anyio.fail_after(60):
            result = await client.call_tool("get_portfolio", arguments)
    assert not result.is_error, result.content[0].text
    return result


async def test_average_cost_matches_the_hand_worked_figures(scripted):
    world, r1, r2 = scripted
    result = await portfolio(world)
    rows = by_asset(result)
    with localcontext(CTX):
        # BTC: two lots (the fee in BTC leaves fewer coins for the same cost), one sale (fee in USDT)
        btc_qty, btc_cost = D("0.4995") + D("0.2997"), D("25000") + D("18000")
        sold_cost = btc_cost * D("0.4") / btc_qty
        btc_realised = (D("28000") - D("28")) - sold_cost
        btc_left_cost = btc_cost - sold_cost
        btc_unrealised = D("0.3992") * D("70000") - btc_left_cost
        # BNB: 1 bought at 600 with a 0.001 BNB fee, then two fees of 0.01 BNB disposed at r1 and r2
        bnb_qty, bnb_cost = D("0.999"), D("600")
        fee1_cost = bnb_cost * D("0.01") / bnb_qty
        bnb_qty, bnb_cost = bnb_qty - D("0.01"), bnb_cost - fee1_cost
        fee2_cost = bnb_cost * D("0.01") / bnb_qty
        bnb_qty, bnb_cost = bnb_qty - D("0.01"), bnb_cost - fee2_cost
        bnb_realised = (D("0.01") * r1 - fee1_cost) + (D("0.01") * r2 - fee2_cost)
        bnb_unrealised = bnb_qty * D("600") - bnb_cost
        # ETH: 2 bought for 6000 plus the BNB fee's value; 0.5 sold for 1650 less the BNB fee's value
        eth_cost = D("6000") + D("0.01") * r1
        eth_sold_cost = eth_cost * D("0.5") / D("2")
        eth_realised = (D("1650") - D("0.01") * r2) - eth_sold_cost
        eth_unrealised = D("1.5") * D("3300") - (eth_cost - eth_sold_cost)
        usdt = D("100000") - 25000 - 18000 + D("27972") - 600 - 6000 + 1650
        bnb_held = D("0.5") + D("0.999") - D("0.02")
        values = {"USDT": usdt, "BTC": D("0.3992") * 70000, "ETH": D("1.5") * 3300, "BNB": bnb_held * 600,
                  "XYZ": D("100") * (D("0.0001") * D("70000"))}
        total = sum(values.values(), D(0))
        fees = D("0.0005") * 50000 + D("0.0003") * 60000 + D("28") + D("0.001") * 600 + D("0.01") * r1 + D("0.01") * r2
        sc = result.structured_content
        assert sc["method"] == "average" and sc["valuation"] == "USDT"
        assert rows["BTC"]["quantity"] == "0.3992" and rows["BTC"]["coverage_pct"] == "100.00"
        assert rows["BTC"]["realised_pnl"] == shown(btc_realised)
        assert rows["BTC"]["cost"] == shown(btc_left_cost)
        assert rows["BTC"]["unrealised_pnl"] == shown(btc_unrealised)
        assert rows["BTC"]["pairs"] == ["BTCUSDT"] and rows["BTC"]["price"] == shown(D("70000"))
        assert rows["ETH"]["realised_pnl"] == shown(eth_realised)
        assert rows["ETH"]["unrealised_pnl"] == shown(eth_unrealised)
        assert rows["BNB"]["realised_pnl"] == shown(bnb_realised)
        assert rows["BNB"]["unrealised_pnl"] == shown(bnb_unrealised)
        assert rows["BNB"]["coverage_pct"] == pct(bnb_qty / bnb_held)  # the deposit is not explained
        assert rows["BNB"]["quantity"] == "1.479"
        assert rows["XYZ"]["pairs"] == ["XYZBTC", "BTCUSDT"] and rows["XYZ"]["price"] == shown(D("7"))
        assert rows["XYZ"]["coverage_pct"] == "0.00" and rows["XYZ"]["unrealised_pnl"] is None
        assert rows["NOPE"]["price"] is None and rows["NOPE"]["value"] is None and sc["unpriced"] == ["NOPE"]
        assert rows["USDT"]["value"] == shown(usdt)
        assert sc["total_value"] == shown(total)
        assert rows["BTC"]["allocation_pct"] == pct(values["BTC"] / total)
        assert sc["realised_pnl"] == shown(btc_realised + bnb_realised + eth_realised)
        assert sc["fees_value"] == shown(fees)
    text = result.content[0].text
    assert "NOPE" in text and "Unpriced: NOPE" in text and shown(btc_realised) in text
    assert sc["sync"]["trades"] == 6


async def test_fifo_matches_the_hand_worked_figures(scripted):
    world, r1, r2 = scripted
    rows = by_asset(await portfolio(world, method="fifo"))
    with localcontext(CTX):
        # the 0.4 BTC sold come from the first lot (0.4995 BTC for 25,000)
        sold_cost = D("25000") * D("0.4") / D("0.4995")
        realised = D("27972") - sold_cost
        left_cost = (D("25000") - sold_cost) + D("18000")
        unrealised = D("0.3992") * 70000 - left_cost
    assert rows["BTC"]["realised_pnl"] == shown(realised)
    assert rows["BTC"]["cost"] == shown(left_cost)
    assert rows["BTC"]["unrealised_pnl"] == shown(unrealised)
    average = by_asset(await portfolio(world))
    assert rows["BTC"]["realised_pnl"] != average["BTC"]["realised_pnl"]  # the methods differ where lots differ
    for asset in ("ETH", "BNB"):  # one lot each: the same figures either way
        assert rows[asset]["realised_pnl"] == average[asset]["realised_pnl"]


async def test_realised_pnl_counts_only_the_period_asked(scripted):
    world, _, _ = scripted
    future = await portfolio(world, since="2999-01-01")
    sc = future.structured_content
    assert sc["realised_pnl"] == "0.00000000" and sc["fees_value"] == "0.00000000"
    assert sc["period"]["from"] == "2999-01-01T00:00:00Z"
    assert by_asset(future)["BTC"]["cost"] == by_asset(await portfolio(world))["BTC"]["cost"]  # history still counts


async def test_progress_notifications_reach_the_client(scripted):
    world, _, _ = scripted
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with memory_client(world.tools_file, "auto", base_url=world.base_url) as client:
        with anyio.fail_after(60):
            result = await client.call_tool("get_portfolio", {}, progress_callback=on_progress)
    assert not result.is_error
    assert len(seen) >= 2 and seen[-1][0] == seen[-1][1] and seen[-1][2] == "trade history up to date"
    assert [p for p, _, _ in seen] == sorted(p for p, _, _ in seen)
    assert any("BTCUSDT" in (m or "") for _, _, m in seen)


async def test_a_second_call_fetches_only_what_is_new(scripted):
    world, _, _ = scripted
    first = (await portfolio(world, always_sync)).structured_content["sync"]
    again = (await portfolio(world, always_sync)).structured_content["sync"]
    assert first["new_trades"] == 6 and again["new_trades"] == 0 and again["trades"] == 6
    requests = world.exchange.requests_to("/api/v3/myTrades")
    assert {r.params.get("fromId") for r in requests[-again["requests"]:] if r.params["symbol"] == "BTCUSDT"} == {"4"}


async def test_a_warm_call_asks_only_for_balances_and_prices_until_this_server_trades(scripted):
    world, _, _ = scripted
    ex = world.exchange
    await portfolio(world)
    before = len(ex.requests)
    warm = (await portfolio(world)).structured_content["sync"]
    paths = sorted({r.path for r in ex.requests[before:]})
    assert warm["requests"] == 0 and warm["fresh"] == warm["symbols"] + warm["fresh"] > 0
    # (a kline only for a BNB fee whose minute has not closed yet: closed minutes are cached)
    assert set(paths) - {"/api/v3/klines"} == {"/api/v3/account", "/api/v3/exchangeInfo", "/api/v3/ticker/price"}
    async with memory_client(world.tools_file, "auto", base_url=world.base_url) as client:
        # an order this server sends is journaled: that symbol is asked again on the next call
        placed = await client.call_tool("place_order", {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT",
                                                        "timeInForce": "GTC", "quantity": "0.01", "price": "2000"})
        assert not placed.is_error, placed.content[0].text
        before = len(ex.requests)
        with anyio.fail_after(60):
            after = (await client.call_tool("get_portfolio", {})).structured_content["sync"]
    asked = [r.params["symbol"] for r in ex.requests[before:] if r.path == "/api/v3/myTrades"]
    assert asked == ["ETHUSDT"] and after["requests"] == 1


async def test_text_from_outside_is_escaped_in_the_table_and_the_structured_result(world):
    """Invariant 8: an asset name with a bidi override (from the exchange's balances) reaches the
    model escaped, in the text and in structuredContent alike, and the API key never does."""
    History(world, {"USDT": "10", "EVIL\u202eX": "1"})
    result = await portfolio(world)
    assets = [row["asset"] for row in result.structured_content["assets"]]
    assert "EVIL\\u202eX" in assets and not any("\u202e" in a for a in assets)
    text = result.content[0].text
    assert "EVIL\\u202eX" in text and "\u202e" not in text
    assert world.keys.hmac_api_key not in text and world.keys.hmac_api_key not in str(result.structured_content)


async def test_a_refused_call_is_an_error_result_naming_the_fix(world):
    async with memory_client(world.tools_file, "auto", base_url=world.base_url) as client:
        bad = await client.call_tool("get_portfolio", {"method": "lifo"})
        missing = await client.call_tool("get_portfolio", {"account": "nobody"})
        date = await client.call_tool("get_portfolio", {"since": "last week"})
    assert bad.is_error and "method must be one of average, fifo" in bad.content[0].text
    assert missing.is_error and "nobody" in missing.content[0].text
    assert date.is_error and "since must be an ISO date" in date.content[0].text
    assert world.exchange.requests_to("/api/v3/myTrades") == []


async def test_the_operators_symbol_list_syncs_a_pair_nothing_else_names(world):
    """BNB bought and sold out completely outside this server: no holding, no journal line, so
    only $BINANCE_SPOT_MCP_PORTFOLIO_SYMBOLS brings its realised P&L in."""
    history = History(world, {"USDT": "100000"})
    history.trade("BNBUSDT", "BUY", "1", "600")
    history.trade("BNBUSDT", "SELL", "0.999", "650")

    async def synced(extra_env):
        async with memory_client(world.tools_file, "auto", base_url=world.base_url, extra_env=extra_env) as client:
            with anyio.fail_after(60):
                result = await client.call_tool("get_portfolio", {})
        assert not result.is_error, result.content[0].text
        return result.structured_content

    without = await synced({})
    with_list = await synced({"BINANCE_SPOT_MCP_PORTFOLIO_SYMBOLS": " bnbusdt , BNBUSDT"})
    assert "BNB" not in {row["asset"] for row in without["assets"]}
    assert with_list["sync"]["symbols"] == without["sync"]["symbols"] + 1
    bnb = {row["asset"]: row for row in with_list["assets"]}["BNB"]  # a row for its realised P&L alone
    assert bnb["realised_pnl"] != "0.00000000" and with_list["realised_pnl"] != without["realised_pnl"]
