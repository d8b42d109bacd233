"""The fake exchange follows Binance's documented rules where clients depend on them (issue 11,
item 9): time ranges, client order id format, fromId paging, myTrades combinations, leg order."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fake.test_fake_exchange import Key, err, public, register, signed
from tests.fake_binance import RunningFake

HOUR_MS = 3_600_000


@pytest.fixture
def trader(fake_exchange: RunningFake) -> Key:
    return register(fake_exchange.exchange, "HMAC", {})


def test_klines_with_start_and_end_time_are_the_oldest_from_start_time(fake_exchange: RunningFake) -> None:
    now = fake_exchange.exchange.server_time_ms()
    start = now - 10 * HOUR_MS - HOUR_MS // 2  # not on an hour: the candle opening before it is excluded
    end = now - HOUR_MS
    both = public(fake_exchange, "klines", symbol="BTCUSDT", interval="1h", startTime=start, endTime=end, limit=3).json()
    only_start = public(fake_exchange, "klines", symbol="BTCUSDT", interval="1h", startTime=start, limit=3).json()
    opens = [k[0] for k in both]
    assert opens == [k[0] for k in only_start]  # "with both, behaves like startTime ..."
    assert opens[0] >= start and opens[0] - start < HOUR_MS  # no candle before startTime
    assert opens == sorted(opens) and len(opens) == 3
    wide = public(fake_exchange, "klines", symbol="BTCUSDT", interval="1h", startTime=start, endTime=end).json()
    assert wide[-1][0] <= end  # "... but does not exceed endTime"


@pytest.mark.parametrize("client_id", ["has space", "x" * 37, "emoji\u00e9", "semi;colon"])
def test_client_order_ids_outside_binances_pattern_are_rejected(fake_exchange: RunningFake, trader: Key,
                                                               client_id: str) -> None:
    reply = signed(fake_exchange, trader, "POST", "order/test",
                   {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001",
                    "newClientOrderId": client_id})
    assert reply.status_code == 400 and err(reply) == -1100
    assert "newClientOrderId" in reply.json()["msg"] and "{1,36}" in reply.json()["msg"]
    ok = signed(fake_exchange, trader, "POST", "order/test",
                {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001",
                 "newClientOrderId": "agent-a.b:c/d_e-" + "x" * 20})
    assert ok.status_code == 200, ok.text


def _oco(fake: RunningFake, key: Key, **extra: Any) -> dict[str, Any]:
    reply = signed(fake, key, "POST", "orderList/oco",
                   {"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.01", "aboveType": "LIMIT_MAKER",
                    "abovePrice": "65000", "belowType": "STOP_LOSS_LIMIT", "belowStopPrice": "55000",
                    "belowPrice": "54900", "belowTimeInForce": "GTC", **extra})
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_all_order_list_with_from_id_starts_there(fake_exchange: RunningFake, trader: Key) -> None:
    ids = [_oco(fake_exchange, trader)["orderListId"] for _ in range(4)]
    page = signed(fake_exchange, trader, "GET", "allOrderList", {"fromId": ids[1], "limit": 2}).json()
    assert [ol["orderListId"] for ol in page] == ids[1:3]
    recent = signed(fake_exchange, trader, "GET", "allOrderList", {"limit": 2}).json()
    assert [ol["orderListId"] for ol in recent] == ids[2:]


@pytest.mark.parametrize(
    "extra,ok",
    [
        ({}, True),
        ({"orderId": 1}, True),
        ({"startTime": 1}, True),
        ({"endTime": 2}, True),
        ({"fromId": 1}, True),
        ({"startTime": 1, "endTime": 2}, True),
        ({"orderId": 1, "fromId": 1}, True),
        ({"orderId": 1, "startTime": 1}, False),
        ({"fromId": 1, "startTime": 1}, False),
        ({"fromId": 1, "endTime": 2}, False),
        ({"orderId": 1, "fromId": 1, "endTime": 2}, False),
    ],
)
def test_my_trades_accepts_only_the_documented_combinations(fake_exchange: RunningFake, trader: Key,
                                                           extra: dict[str, Any], ok: bool) -> None:
    reply = signed(fake_exchange, trader, "GET", "myTrades", {"symbol": "BTCUSDT", **extra})
    if ok:
        assert reply.status_code == 200, reply.text
    else:
        assert reply.status_code == 400 and err(reply) == -1128


def test_order_list_legs_come_back_in_the_documented_order(fake_exchange: RunningFake, trader: Key) -> None:
    placed = _oco(fake_exchange, trader)
    # rest-api.md's OCO example (a SELL): the stop-loss (below) order first, then the limit maker (above)
    assert [r["type"] for r in placed["orderReports"]] == ["STOP_LOSS_LIMIT", "LIMIT_MAKER"]
    assert [o["orderId"] for o in placed["orders"]] == [r["orderId"] for r in placed["orderReports"]]
    stop, maker = placed["orderReports"]
    assert stop["workingTime"] == -1 and stop["stopPrice"] == "55000.00000000" and "stopPrice" not in maker
    assert set(placed["orders"][0]) == {"symbol", "orderId", "clientOrderId"}
    otoco = signed(fake_exchange, trader, "POST", "orderList/otoco",
                   {"symbol": "BTCUSDT", "workingType": "LIMIT", "workingSide": "BUY", "workingPrice": "50000",
                    "workingQuantity": "0.01", "workingTimeInForce": "GTC", "pendingSide": "SELL",
                    "pendingQuantity": "0.01", "pendingAboveType": "LIMIT_MAKER", "pendingAbovePrice": "70000",
                    "pendingBelowType": "STOP_LOSS", "pendingBelowStopPrice": "45000"})
    assert otoco.status_code == 200, otoco.text
    # the OTOCO example likewise: the working order, then the pending pair's stop-loss, then the other leg
    assert [r["type"] for r in otoco.json()["orderReports"]] == ["LIMIT", "STOP_LOSS", "LIMIT_MAKER"]


def test_the_tool_refuses_the_same_my_trades_combinations_locally() -> None:
    from binance_spot_mcp.catalog.endpoints import load_catalog
    from binance_spot_mcp.catalog.schema import prepare_arguments
    from binance_spot_mcp.errors import ToolInputError

    endpoint = load_catalog().get("get_my_trades")
    for ok in ({}, {"orderId": 1}, {"startTime": 1, "endTime": 2}, {"orderId": 1, "fromId": 1}):
        prepare_arguments(endpoint, {"symbol": "BTCUSDT", **ok})
    for bad in ({"orderId": 1, "startTime": 1}, {"fromId": 1, "endTime": 2}):
        with pytest.raises(ToolInputError, match="at most one of"):
            prepare_arguments(endpoint, {"symbol": "BTCUSDT", **bad})
