"""User data events as user-data-stream.md documents them (issue 23): one ``executionReport`` per
trade with its own commission, commission asset, trade id, maker flag and a rising execution id;
``listStatus`` for an order list placed over REST, when placed and when done."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from websockets.sync.client import ClientConnection, connect

from tests.fake.ws_support import call, new_trader, order, recv, rest, signed_params
from tests.fake_binance import RunningFake


def _events(ws: ClientConnection, count: int, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    return [recv(ws, lambda m: m.get("event", {}).get("e") in kinds)["event"] for _ in range(count)]


def test_each_trade_has_its_own_report_with_its_commission(fake_exchange: RunningFake) -> None:
    maker, taker = new_trader(fake_exchange), new_trader(fake_exchange)
    resting = order(fake_exchange, maker, "SELL", "0.002", "60010.00")
    with connect(fake_exchange.ws_api_url) as ws:
        for trader in (maker, taker):
            assert call(ws, "userDataStream.subscribe.signature", signed_params(fake_exchange, trader))["status"] == 200
        filled = order(fake_exchange, taker, "BUY", "0.003")  # 0.002 from the maker, 0.001 from the seed
        reports = _events(ws, 4, ("executionReport",))
    taker_reports = [r for r in reports if r["i"] == filled["orderId"]]
    maker_reports = [r for r in reports if r["i"] == resting["orderId"]]
    assert [r["x"] for r in taker_reports] == ["NEW", "TRADE", "TRADE"]
    assert [r["X"] for r in taker_reports] == ["NEW", "PARTIALLY_FILLED", "FILLED"]
    fills = filled["fills"]
    for report, fill in zip(taker_reports[1:], fills):
        assert (report["l"], report["L"], report["n"], report["N"], report["t"]) == (
            fill["qty"], fill["price"], fill["commission"], fill["commissionAsset"], fill["tradeId"])
        assert report["m"] is False and Decimal(report["n"]) > 0
    assert Decimal(taker_reports[-1]["z"]) == Decimal("0.003")
    (maker_fill,) = maker_reports
    assert maker_fill["x"] == "TRADE" and maker_fill["X"] == "FILLED" and maker_fill["m"] is True
    assert maker_fill["N"] == "USDT" and Decimal(maker_fill["n"]) == Decimal("0.002") * Decimal("60010") / 1000
    assert maker_fill["t"] == fills[0]["tradeId"]
    execution_ids = [r["I"] for r in reports]
    assert execution_ids == sorted(execution_ids) and len(set(execution_ids)) == len(execution_ids)
    assert all(r["I"] > 0 for r in reports)


def test_an_oco_placed_over_rest_sends_list_status_when_placed_and_when_done(fake_exchange: RunningFake) -> None:
    owner, buyer = new_trader(fake_exchange), new_trader(fake_exchange)
    with connect(fake_exchange.ws_api_url) as ws:
        assert call(ws, "userDataStream.subscribe.signature", signed_params(fake_exchange, owner))["status"] == 200
        placed = rest(fake_exchange, owner, "POST", "/api/v3/orderList/oco", symbol="BTCUSDT", side="SELL",
                      quantity="0.001", aboveType="LIMIT_MAKER", abovePrice="60010.00", belowType="STOP_LOSS_LIMIT",
                      belowPrice="58900.00", belowStopPrice="59000.00", belowTimeInForce="GTC")
        legs = {o["orderId"] for o in placed["orders"]}
        events = _events(ws, 3, ("executionReport", "listStatus"))
        assert [e["e"] for e in events] == ["executionReport", "executionReport", "listStatus"]
        started = events[-1]
        assert started["g"] == placed["orderListId"] and started["c"] == "OCO"
        assert (started["l"], started["L"], started["r"]) == ("EXEC_STARTED", "EXECUTING", "NONE")
        assert started["C"] == placed["listClientOrderId"] and {o["i"] for o in started["O"]} == legs
        order(fake_exchange, buyer, "BUY", "0.001")
        done = recv(ws, lambda m: m.get("event", {}).get("e") == "listStatus")["event"]
    assert (done["l"], done["L"], done["g"]) == ("ALL_DONE", "ALL_DONE", placed["orderListId"])


def test_time_unit_microsecond_turns_user_event_times_into_microseconds(fake_exchange: RunningFake) -> None:
    trader = new_trader(fake_exchange)
    with connect(f"{fake_exchange.ws_api_url}?timeUnit=MICROSECOND") as ws:
        assert call(ws, "userDataStream.subscribe.signature", signed_params(fake_exchange, trader))["status"] == 200
        before = fake_exchange.exchange.server_time_ms() * 1000
        placed = order(fake_exchange, trader, "BUY", "0.001")
        report = recv(ws, lambda m: m.get("event", {}).get("X") == "FILLED")["event"]
        position = recv(ws, lambda m: m.get("event", {}).get("e") == "outboundAccountPosition")["event"]
        after = fake_exchange.exchange.server_time_ms() * 1000
    assert report["i"] == placed["orderId"]
    for value in (report["E"], report["T"], report["O"], position["E"], position["u"]):
        assert before - 1_000_000 <= value <= after, value
