"""Paper trading end to end: a real MCP client, the real server, and the fake exchange playing the
live market (its book and its trades). Every fill is checked against what the fake's book and
trades say, and the fake must never see a signed request or a key from a paper account."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.e2e_support import ERAS, memory_client
from tests.paper.paper_support import Trader, result, signed_requests, write_paper_tools

pytestmark = pytest.mark.anyio

# The fake's seeded BTCUSDT book: asks 60030 x0.5, 60060 x1, 60090 x1.5, ...; bids 59970 x0.5, 59940 x1, ...
RICH = "- Paper Balances: 100000 USDT, 1 BTC\n"


def _tools(tmp_path, fake, extra: str = RICH):
    return write_paper_tools(tmp_path, fake.base_url, f"### main\n- Environment: paper\n{extra}")


def _balances(account: dict) -> dict[str, tuple[D, D]]:
    return {b["asset"]: (D(b["free"]), D(b["locked"])) for b in account["balances"]}


@pytest.mark.parametrize("mode", ERAS)
async def test_a_market_buy_walks_the_live_book_level_by_level(tmp_path, fake_exchange, mode):
    async with memory_client(_tools(tmp_path, fake_exchange), mode, fake_exchange.base_url) as client:
        placed = result(await client.call_tool(
            "place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.7"}))
        assert placed["status"] == "FILLED" and placed["environment"] == "paper"
        fills = [(D(f["price"]), D(f["qty"]), D(f["commission"]), f["commissionAsset"]) for f in placed["fills"]]
        assert fills == [(D("60030"), D("0.5"), D("0.0005"), "BTC"), (D("60060"), D("0.2"), D("0.0002"), "BTC")]
        assert [f["paperReceipt"]["level"] for f in placed["fills"]] == [0, 1]
        assert D(placed["cummulativeQuoteQty"]) == D("30015") + D("12012")
        balances = _balances(result(await client.call_tool("get_account", {})))
        assert balances["USDT"] == (D("100000") - D("42027"), D(0))
        assert balances["BTC"] == (D("1.6993"), D(0))
        trades = result(await client.call_tool("get_my_trades", {"symbol": "BTCUSDT"}))
        assert [(t["price"], t["qty"], t["isMaker"]) for t in trades] == [
            ("60030.00000000", "0.50000000", False), ("60060.00000000", "0.20000000", False)]
        assert trades[0]["paperReceipt"]["source"] == "book"
    assert signed_requests(fake_exchange) == []


async def test_a_resting_limit_fills_only_after_the_queue_ahead_of_it_traded(tmp_path, fake_exchange):
    seller, bidder = Trader(fake_exchange), Trader(fake_exchange)
    async with memory_client(_tools(tmp_path, fake_exchange), "legacy", fake_exchange.base_url) as client:
        placed = result(await client.call_tool("place_order", {
            "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.3", "price": "59970"}))
        order_id = placed["orderId"]
        assert placed["status"] == "NEW" and placed["fills"] == []
        balances = _balances(result(await client.call_tool("get_account", {})))
        assert balances["USDT"] == (D("100000") - D("17991"), D("17991"))  # 0.3 x 59970 locked

        seller.order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.3")  # 0.3 of the 0.5 ahead
        order = result(await client.call_tool("get_order", {"symbol": "BTCUSDT", "orderId": order_id}))
        assert (order["status"], order["executedQty"]) == ("NEW", "0.00000000")

        bidder.order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="1", price="59970")
        seller.order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.4")  # 0.2 ahead, then 0.2 for us
        order = result(await client.call_tool("get_order", {"symbol": "BTCUSDT", "orderId": order_id}))
        assert (order["status"], order["executedQty"]) == ("PARTIALLY_FILLED", "0.20000000")

        seller.order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.5")
        order = result(await client.call_tool("get_order", {"symbol": "BTCUSDT", "orderId": order_id}))
        assert (order["status"], order["executedQty"]) == ("FILLED", "0.30000000")
        trades = result(await client.call_tool("get_my_trades", {"symbol": "BTCUSDT"}))
        assert [(t["qty"], t["isMaker"], t["commission"]) for t in trades] == [
            ("0.20000000", True, "0.00020000"), ("0.10000000", True, "0.00010000")]
        assert all(t["paperReceipt"]["source"] == "aggTrade" and t["price"] == "59970.00000000" for t in trades)
        balances = _balances(result(await client.call_tool("get_account", {})))
        assert balances["USDT"] == (D("100000") - D("17991"), D(0))
        assert balances["BTC"] == (D("1.2997"), D(0))
    assert signed_requests(fake_exchange) == [] or all(
        r.headers.get("x-mbx-apikey") in (seller.api_key, bidder.api_key) for r in signed_requests(fake_exchange))


async def test_a_trade_through_the_price_fills_a_resting_order_partially_when_smaller(tmp_path, fake_exchange):
    seller = Trader(fake_exchange)
    async with memory_client(_tools(tmp_path, fake_exchange), "legacy", fake_exchange.base_url) as client:
        placed = result(await client.call_tool("place_order", {
            "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.8", "price": "59950"}))
        seller.order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.5")  # at 59970: above our price
        order = result(await client.call_tool("get_order", {"symbol": "BTCUSDT", "orderId": placed["orderId"]}))
        assert order["status"] == "NEW"
        seller.order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.6")  # at 59940: through our price
        order = result(await client.call_tool("get_order", {"symbol": "BTCUSDT", "orderId": placed["orderId"]}))
        assert (order["status"], order["executedQty"]) == ("PARTIALLY_FILLED", "0.60000000")
        canceled = result(await client.call_tool("cancel_order", {"symbol": "BTCUSDT", "orderId": placed["orderId"]}))
        assert canceled["status"] == "CANCELED"
        balances = _balances(result(await client.call_tool("get_account", {})))
        assert balances["USDT"] == (D("100000") - D("0.6") * D("59950"), D(0))  # the rest unlocked


async def test_a_stop_loss_triggers_on_a_trade_at_its_price_and_sells_into_the_book(tmp_path, fake_exchange):
    seller = Trader(fake_exchange)
    async with memory_client(_tools(tmp_path, fake_exchange), "legacy", fake_exchange.base_url) as client:
        early = await client.call_tool("place_order", {
            "symbol": "BTCUSDT", "side": "SELL", "type": "STOP_LOSS", "quantity": "0.1", "stopPrice": "60010"})
        assert early.is_error and '"code":-2010' in early.content[0].text and "trigger immediately" in early.content[0].text
        placed = result(await client.call_tool("place_order", {
            "symbol": "BTCUSDT", "side": "SELL", "type": "STOP_LOSS", "quantity": "0.1", "stopPrice": "59950"}))
        assert set(placed) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime", "environment"}  # ACK
        assert _balances(result(await client.call_tool("get_account", {})))["BTC"] == (D("0.9"), D("0.1"))
        seller.order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.5")  # 59970: not yet
        order = result(await client.call_tool("get_order", {"symbol": "BTCUSDT", "orderId": placed["orderId"]}))
        assert order["status"] == "NEW" and order["isWorking"] is False
        seller.order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="1")  # 59940: triggers
        order = result(await client.call_tool("get_order", {"symbol": "BTCUSDT", "orderId": placed["orderId"]}))
        assert (order["status"], order["executedQty"]) == ("FILLED", "0.10000000")
        (trade,) = result(await client.call_tool("get_my_trades", {"symbol": "BTCUSDT"}))
        assert trade["price"] == "59910.00000000"  # the best bid left after the trigger
        assert _balances(result(await client.call_tool("get_account", {})))["BTC"] == (D("0.9"), D(0))


async def test_binance_error_codes_for_balance_unknown_orders_and_would_take(tmp_path, fake_exchange):
    async with memory_client(_tools(tmp_path, fake_exchange, "- Paper Balances: 1000 USDT\n"), "legacy",
                             fake_exchange.base_url) as client:
        poor = await client.call_tool("place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.1"})
        assert poor.is_error and '"code":-2010' in poor.content[0].text and "insufficient balance" in poor.content[0].text
        no_btc = await client.call_tool("place_order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.01"})
        assert no_btc.is_error and '"code":-2010' in no_btc.content[0].text
        unknown = await client.call_tool("cancel_order", {"symbol": "BTCUSDT", "orderId": 999})
        assert unknown.is_error and '"code":-2011' in unknown.content[0].text
        missing = await client.call_tool("get_order", {"symbol": "BTCUSDT", "orderId": 999})
        assert missing.is_error and '"code":-2013' in missing.content[0].text
        taker = await client.call_tool("place_order", {
            "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "quantity": "0.01", "price": "60030"})
        assert taker.is_error and "immediately match and take" in taker.content[0].text
        sor = await client.call_tool("place_sor_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"})
        assert sor.is_error and "not available on paper accounts" in sor.content[0].text
        balances = _balances(result(await client.call_tool("get_account", {})))
        assert balances == {"USDT": (D(1000), D(0))}
    assert signed_requests(fake_exchange) == []


async def test_paper_state_survives_a_restart(tmp_path, fake_exchange):
    tools = _tools(tmp_path, fake_exchange)
    async with memory_client(tools, "legacy", fake_exchange.base_url) as client:
        result(await client.call_tool("place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.1"}))
        resting = result(await client.call_tool("place_order", {
            "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.2", "price": "50000"}))
        before = result(await client.call_tool("get_account", {}))
    async with memory_client(tools, "auto", fake_exchange.base_url) as client:
        after = result(await client.call_tool("get_account", {}))
        assert after["balances"] == before["balances"]
        (still,) = result(await client.call_tool("get_open_orders", {"symbol": "BTCUSDT"}))
        assert still["orderId"] == resting["orderId"] and still["environment"] == "paper"


@pytest.mark.parametrize(("local_checks", "expected"), [("1", '"filter":"LOT_SIZE"'), ("0", '"code":-1013')])
async def test_a_filter_breach_is_refused_by_the_servers_check_or_else_by_the_desk_like_binance(
        tmp_path, fake_exchange, local_checks, expected):
    env = {"BINANCE_SPOT_MCP_LOCAL_FILTERS": local_checks}
    async with memory_client(_tools(tmp_path, fake_exchange), "legacy", fake_exchange.base_url, extra_env=env) as client:
        refused = await client.call_tool("place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                         "timeInForce": "GTC", "quantity": "0.000001", "price": "50000"})
        assert refused.is_error and expected in refused.content[0].text, refused.content[0].text
        assert result(await client.call_tool("get_open_orders", {"symbol": "BTCUSDT"})) == []
