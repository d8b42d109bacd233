"""OCO order lists on paper, against the fake exchange as the live market: one lock for the list,
the first leg to execute wins and expires the other, a canceled leg takes the list with it."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.e2e_support import memory_client
from tests.paper.paper_support import Trader, result, signed_requests, write_paper_tools

pytestmark = pytest.mark.anyio

# The fake's BTCUSDT: last 60000; asks 60030 x0.5, 60060 x1, ...; bids 59970 x0.5, 59940 x1, 59910 x1.5, ...
OCO = {"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.2", "aboveType": "LIMIT_MAKER", "abovePrice": "60030",
       "belowType": "STOP_LOSS", "belowStopPrice": "59950"}


def _tools(tmp_path, fake):
    return write_paper_tools(tmp_path, fake.base_url,
                             "### main\n- Environment: paper\n- Paper Balances: 100000 USDT, 1 BTC\n")


def _btc(account: dict) -> tuple[D, D]:
    (btc,) = [(D(b["free"]), D(b["locked"])) for b in account["balances"] if b["asset"] == "BTC"]
    return btc


async def _legs(client, list_id: int) -> dict[str, dict]:
    listed = result(await client.call_tool("get_order_list", {"orderListId": list_id}))
    legs = [result(await client.call_tool("get_order", {"symbol": "BTCUSDT", "orderId": o["orderId"]}))
            for o in listed["orders"]]
    return {"list": listed, **{leg["type"]: leg for leg in legs}}


async def test_the_stop_leg_triggers_first_and_expires_the_limit_maker(tmp_path, fake_exchange):
    seller = Trader(fake_exchange)
    async with memory_client(_tools(tmp_path, fake_exchange), "legacy", fake_exchange.base_url) as client:
        placed = result(await client.call_tool("place_order_list_oco", OCO))
        assert placed["contingencyType"] == "OCO" and placed["listOrderStatus"] == "EXECUTING"
        assert [r["type"] for r in placed["orderReports"]] == ["STOP_LOSS", "LIMIT_MAKER"]
        assert _btc(result(await client.call_tool("get_account", {}))) == (D("0.8"), D("0.2"))  # one lock for both legs
        seller.order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="1.5")  # 0.5@59970, 1@59940: triggers
        legs = await _legs(client, placed["orderListId"])
        assert legs["list"]["listOrderStatus"] == "ALL_DONE"
        assert (legs["STOP_LOSS"]["status"], legs["STOP_LOSS"]["executedQty"]) == ("FILLED", "0.20000000")
        assert legs["LIMIT_MAKER"]["status"] == "EXPIRED"
        assert _btc(result(await client.call_tool("get_account", {}))) == (D("0.8"), D(0))
        (trade,) = result(await client.call_tool("get_my_trades", {"symbol": "BTCUSDT"}))
        assert trade["price"] == "59910.00000000" and trade["orderListId"] == placed["orderListId"]
    assert signed_requests(fake_exchange) == [] or all(
        r.headers.get("x-mbx-apikey") == seller.api_key for r in signed_requests(fake_exchange))


async def test_the_limit_maker_fills_first_and_expires_the_stop(tmp_path, fake_exchange):
    buyer = Trader(fake_exchange)
    async with memory_client(_tools(tmp_path, fake_exchange), "legacy", fake_exchange.base_url) as client:
        placed = result(await client.call_tool("place_order_list_oco", OCO))
        buyer.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.7")  # 0.5@60030 (ahead of us), 0.2@60060
        legs = await _legs(client, placed["orderListId"])
        assert (legs["LIMIT_MAKER"]["status"], legs["LIMIT_MAKER"]["executedQty"]) == ("FILLED", "0.20000000")
        assert legs["STOP_LOSS"]["status"] == "EXPIRED" and legs["list"]["listOrderStatus"] == "ALL_DONE"
        account = result(await client.call_tool("get_account", {}))
        assert _btc(account) == (D("0.8"), D(0))
        usdt = next(D(b["free"]) for b in account["balances"] if b["asset"] == "USDT")
        assert usdt == D("100000") + D("0.2") * D("60030") * (1 - D("0.001"))  # maker commission in USDT


async def test_canceling_one_leg_cancels_the_list_and_frees_the_lock(tmp_path, fake_exchange):
    async with memory_client(_tools(tmp_path, fake_exchange), "legacy", fake_exchange.base_url) as client:
        placed = result(await client.call_tool("place_order_list_oco", OCO))
        assert len(result(await client.call_tool("get_open_order_lists", {}))) == 1
        leg = placed["orders"][1]["orderId"]
        canceled = result(await client.call_tool("cancel_order", {"symbol": "BTCUSDT", "orderId": leg}))
        assert canceled["status"] == "CANCELED"
        legs = await _legs(client, placed["orderListId"])
        assert {legs["STOP_LOSS"]["status"], legs["LIMIT_MAKER"]["status"]} == {"CANCELED"}
        assert result(await client.call_tool("get_open_order_lists", {})) == []
        assert _btc(result(await client.call_tool("get_account", {}))) == (D(1), D(0))
        again = await client.call_tool("cancel_order_list", {"symbol": "BTCUSDT", "orderListId": placed["orderListId"]})
        assert again.is_error and '"code":-2011' in again.content[0].text


async def test_an_oco_with_prices_on_the_wrong_side_or_no_funds_is_rejected_like_binance(tmp_path, fake_exchange):
    async with memory_client(_tools(tmp_path, fake_exchange), "legacy", fake_exchange.base_url) as client:
        wrong = await client.call_tool("place_order_list_oco", {**OCO, "belowStopPrice": "60010"})
        assert wrong.is_error and '"code":-2010' in wrong.content[0].text
        assert "relationship of the prices" in wrong.content[0].text
        too_big = await client.call_tool("place_order_list_oco", {**OCO, "quantity": "2"})
        assert too_big.is_error and "insufficient balance" in too_big.content[0].text
        assert _btc(result(await client.call_tool("get_account", {}))) == (D(1), D(0))
        assert result(await client.call_tool("get_all_order_lists", {})) == []


async def test_an_oco_announces_its_list_status_on_the_account_stream(tmp_path, fake_exchange):
    from tests.e2e_support import stream_environ
    from tests.paper.test_paper_streams import _call, _read_until

    async with memory_client(_tools(tmp_path, fake_exchange), "legacy", fake_exchange.base_url,
                             extra_env=stream_environ(fake_exchange)) as client:
        sub = await _call(client, "subscribe_stream", {"account": "main", "streams": ["listStatus"]})
        placed = result(await client.call_tool("place_order_list_oco", OCO))
        await client.call_tool("cancel_order_list", {"symbol": "BTCUSDT", "orderListId": placed["orderListId"]})
        events = await _read_until(client, sub["subscription"], lambda ev: len(ev) >= 2)
    assert [(e["e"], e["g"], e["c"], e["l"], e["L"]) for e in events] == [
        ("listStatus", placed["orderListId"], "OCO", "EXEC_STARTED", "EXECUTING"),
        ("listStatus", placed["orderListId"], "OCO", "ALL_DONE", "ALL_DONE")]
    assert [leg["i"] for leg in events[0]["O"]] == [o["orderId"] for o in placed["orders"]]
    assert events[0]["C"] == placed["listClientOrderId"]
