"""The fake's market streams follow web-socket-streams.md rule by rule (issue 23).

Diff depth and the documented local-book procedure, raw ``/ws/<name>`` paths, Unicode stream names,
every documented stream name, ``timeUnit=MICROSECOND``, the 24-hour limit (on by default, ended
with a close frame), and the documented replies to malformed requests. Trades come from REST
orders of throwaway accounts.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from websockets.exceptions import ConnectionClosedOK
from websockets.sync.client import connect

from tests.fake.ws_support import RECV_TIMEOUT_S, depth, new_trader, order, recv
from tests.fake_binance import RunningFake


def _book(snapshot: dict[str, Any]) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
    return ({Decimal(p): Decimal(q) for p, q in snapshot["bids"]}, {Decimal(p): Decimal(q) for p, q in snapshot["asks"]})


def _apply(book: tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]], event: dict[str, Any]) -> None:
    for side, levels in ((book[0], event["b"]), (book[1], event["a"])):
        for price, qty in levels:
            if Decimal(qty) == 0:
                side.pop(Decimal(price), None)
            else:
                side[Decimal(price)] = Decimal(qty)


def test_diff_depth_keeps_a_local_book_equal_to_the_rest_snapshot(fake_exchange: RunningFake) -> None:
    """The documented procedure: buffer ``depthUpdate``s, take a REST snapshot, drop ``u <= lastUpdateId``,
    apply the rest in ``U == previous u + 1`` order; the local book then equals REST's, level for level."""
    maker, taker = new_trader(fake_exchange), new_trader(fake_exchange)
    with connect(f"{fake_exchange.stream_url}/ws/btcusdt@depth") as ws:
        order(fake_exchange, maker, "BUY", "0.01", "59990.00")  # a new level
        first = recv(ws)
        assert first["e"] == "depthUpdate" and first["s"] == "BTCUSDT"
        assert ["59990.00", "0.01000"] in first["b"] or ["59990.00000000", "0.01000000"] in first["b"] or any(
            Decimal(p) == Decimal("59990") and Decimal(q) == Decimal("0.01") for p, q in first["b"])
        snapshot = depth(fake_exchange)
        assert snapshot["lastUpdateId"] == first["u"]  # the same update ids as GET /api/v3/depth
        local, update_id = _book(snapshot), snapshot["lastUpdateId"]
        order(fake_exchange, taker, "SELL", "0.004")  # a partial fill of a resting level
        order(fake_exchange, maker, "SELL", "0.02", "60100.00")  # another new level
        order(fake_exchange, taker, "BUY", "0.5")  # sweeps asks: levels removed (quantity 0)
        for _ in range(3):
            event = recv(ws)
            assert event["U"] == update_id + 1, "U is the previous event's u + 1"
            assert event["u"] >= event["U"]
            _apply(local, event)
            update_id = event["u"]
        assert any(Decimal(q) == 0 for _, q in event["a"])
    after = depth(fake_exchange)
    assert after["lastUpdateId"] == update_id
    assert local == _book(after)


def test_the_100ms_diff_depth_stream_carries_the_same_updates(fake_exchange: RunningFake) -> None:
    maker = new_trader(fake_exchange)
    with connect(f"{fake_exchange.stream_url}/stream?streams=btcusdt@depth@100ms") as ws:
        order(fake_exchange, maker, "BUY", "0.01", "59990.00")
        message = recv(ws)
        assert message["stream"] == "btcusdt@depth@100ms" and message["data"]["e"] == "depthUpdate"


def test_a_raw_path_takes_any_name_and_subscribes_afterwards(fake_exchange: RunningFake) -> None:
    """ccxt opens ``/ws/0`` and SUBSCRIBEs: Binance keeps such a connection open."""
    taker = new_trader(fake_exchange)
    with connect(f"{fake_exchange.stream_url}/ws/0") as ws:
        ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}))
        assert recv(ws, lambda m: m.get("id") == 1) == {"result": None, "id": 1}
        filled = order(fake_exchange, taker, "BUY", "0.001")
        trade = recv(ws, lambda m: m.get("e") == "trade")
        assert trade["t"] == filled["fills"][0]["tradeId"]


def test_a_unicode_stream_name_in_the_path_carries_its_trades(fake_exchange: RunningFake) -> None:
    """``这是测试币456@trade``, percent-encoded as UTF-8 in the URL as clients send it."""
    maker, taker = new_trader(fake_exchange, balances={"456": "1000", "这是测试币": "1000"}), new_trader(
        fake_exchange, balances={"456": "1000", "这是测试币": "1000"})
    with connect(f"{fake_exchange.stream_url}/ws/{quote('这是测试币456@trade')}") as ws:
        order(fake_exchange, maker, "SELL", "1.00", "2.0100", symbol="这是测试币456")
        order(fake_exchange, taker, "BUY", "1.00", symbol="这是测试币456")
        trade = recv(ws, lambda m: m.get("e") == "trade")
        assert trade["s"] == "这是测试币456"


DOCUMENTED = ["btcusdt@ticker_1h", "btcusdt@ticker_4h", "btcusdt@ticker_1d", "!miniTicker@arr", "!ticker_1h@arr",
              "!ticker_4h@arr", "!ticker_1d@arr", "btcusdt@kline_1d@+08:00", "btcusdt@referencePrice",
              "btcusdt@blockTrade", "btcusdt@depth", "btcusdt@depth@100ms"]


def test_every_documented_stream_name_is_accepted(fake_exchange: RunningFake) -> None:
    with connect(f"{fake_exchange.stream_url}/ws") as ws:
        ws.send(json.dumps({"method": "SUBSCRIBE", "params": DOCUMENTED, "id": 1}))
        assert recv(ws, lambda m: m.get("id") == 1) == {"result": None, "id": 1}


def test_periodic_streams_render_their_documented_payloads(fake_exchange: RunningFake) -> None:
    taker = new_trader(fake_exchange)
    order(fake_exchange, taker, "BUY", "0.001")
    fake_exchange.streams.period_s = 0.05
    wanted = {"btcusdt@ticker_1h": "1hTicker", "!miniTicker@arr": "24hrMiniTicker", "!ticker_4h@arr": "4hTicker",
              "btcusdt@kline_1d@+08:00": "kline", "btcusdt@referencePrice": "referencePrice"}
    seen: dict[str, Any] = {}
    with connect(f"{fake_exchange.stream_url}/stream?streams={'/'.join(wanted)}") as ws:
        while len(seen) < len(wanted):
            message = recv(ws, timeout=RECV_TIMEOUT_S * 2)
            seen[message["stream"]] = message["data"]
    for stream, event in wanted.items():
        data = seen[stream][0] if stream.startswith("!") else seen[stream]
        assert data["e"] == event and data["s"] == "BTCUSDT", stream
    kline = seen["btcusdt@kline_1d@+08:00"]["k"]
    assert (kline["t"] + 8 * 3_600_000) % 86_400_000 == 0  # the day opens at midnight UTC+8
    assert seen["btcusdt@ticker_1h"]["O"] % 60_000 == 0  # the window opens on a minute


def test_time_unit_microsecond_turns_event_times_into_microseconds(fake_exchange: RunningFake) -> None:
    taker = new_trader(fake_exchange)
    with connect(f"{fake_exchange.stream_url}/stream?streams=btcusdt@trade&timeUnit=MICROSECOND") as ws:
        before = fake_exchange.exchange.server_time_ms()
        order(fake_exchange, taker, "BUY", "0.001")
        trade = recv(ws)["data"]
        after = fake_exchange.exchange.server_time_ms()
    assert before * 1000 <= trade["E"] <= after * 1000 and before * 1000 <= trade["T"] <= after * 1000


def test_the_24_hour_limit_is_on_and_ends_with_a_close_frame(fake_exchange: RunningFake) -> None:
    streams = fake_exchange.streams
    assert streams.max_age_s == 24 * 3600
    streams.period_s = 0.05
    streams.max_age_s = 0.1
    with connect(f"{fake_exchange.stream_url}/ws/btcusdt@trade") as ws:
        with pytest.raises(ConnectionClosedOK):  # a close frame, not a dropped TCP connection
            ws.recv(timeout=RECV_TIMEOUT_S)


BAD_REQUESTS = [
    ({"method": "LIST_SUBSCRIPTIONS", "id": "x" * 37}, {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}),
    ({"method": "LIST_SUBSCRIPTIONS", "id": {"a": 1}}, {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}),
    ({"method": "LIST_SUBSCRIPTIONS", "params": ["btcusdt@trade"], "id": 5},
     {"code": 2, "msg": "Invalid request: too many parameters", "id": 5}),
    ({"method": "GET_PROPERTY", "params": [1], "id": 6}, {"code": 2, "msg": "Invalid request: property name must be a string", "id": 6}),
    ({"method": "GET_PROPERTY", "params": ["combined", True], "id": 7}, {"code": 2, "msg": "Invalid request: too many parameters", "id": 7}),
]


@pytest.mark.parametrize("request_, reply", BAD_REQUESTS, ids=["id-37-chars", "id-object", "list-with-params",
                                                                 "property-not-string", "get-property-two-params"])
def test_malformed_requests_get_the_documented_errors(fake_exchange: RunningFake, request_: dict[str, Any],
                                                      reply: dict[str, Any]) -> None:
    with connect(f"{fake_exchange.stream_url}/ws") as ws:
        ws.send(json.dumps(request_))
        assert recv(ws) == reply


def test_a_36_character_id_and_a_uuid_are_echoed(fake_exchange: RunningFake) -> None:
    with connect(f"{fake_exchange.stream_url}/ws") as ws:
        for rid in ("a" * 36, "e2a85d9f-07a5-4f94-8d5f-789dc3deb097", -5, None):
            ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": rid}))
            assert recv(ws) == {"result": [], "id": rid}


def test_the_five_messages_a_second_rule_spares_the_websocket_api(fake_exchange: RunningFake) -> None:
    """The limit is a market streams rule; the WebSocket API's limits are weight and connections."""
    with connect(fake_exchange.ws_api_url) as ws:
        for i in range(10):
            ws.send(json.dumps({"id": i, "method": "ping"}))
        answered = {recv(ws)["id"] for _ in range(10)}
    assert answered == set(range(10)) and fake_exchange.streams.limit_violations == 0
