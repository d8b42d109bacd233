"""The fake's WebSocket API follows web-socket-api.md (issue 23): ``returnRateLimits``, ``timeUnit``,
``v3/`` prefixes, request ids, the -2035/-2042 texts of errors.md, ``session.logon`` with Ed25519
keys, and the market, order and account methods a client uses against an account."""

from __future__ import annotations

from decimal import Decimal

import pytest
from websockets.sync.client import connect

from tests.fake.ws_support import call, depth, new_trader, recv, signed_params
from tests.fake_binance import RunningFake


def test_rate_limits_are_shown_unless_the_request_or_the_url_says_false(fake_exchange: RunningFake) -> None:
    with connect(fake_exchange.ws_api_url) as ws:
        assert "rateLimits" in call(ws, "time")
        assert "rateLimits" not in call(ws, "time", {"returnRateLimits": False})
    with connect(f"{fake_exchange.ws_api_url}?returnRateLimits=false") as ws:
        assert "rateLimits" not in call(ws, "time")
        assert "rateLimits" in call(ws, "time", {"returnRateLimits": True})


def test_time_unit_microsecond_in_the_url(fake_exchange: RunningFake) -> None:
    with connect(f"{fake_exchange.ws_api_url}?timeUnit=MICROSECOND") as ws:
        before = fake_exchange.exchange.server_time_ms()
        server_time = call(ws, "time")["result"]["serverTime"]
    assert before * 1000 <= server_time <= (before + 5_000) * 1000


def test_method_names_may_carry_the_v3_prefix(fake_exchange: RunningFake) -> None:
    with connect(fake_exchange.ws_api_url) as ws:
        assert call(ws, "v3/ping")["status"] == 200
        assert call(ws, "v3/depth", {"symbol": "BTCUSDT", "limit": 5})["result"]["bids"]


@pytest.mark.parametrize("rid", ["x" * 37, {"a": 1}, [1]], ids=["37-chars", "object", "array"])
def test_request_ids_binance_refuses_are_not_echoed(fake_exchange: RunningFake, rid: object) -> None:
    with connect(fake_exchange.ws_api_url) as ws:
        reply = call(ws, "ping", rid=rid)
    assert reply["id"] is None and reply["status"] == 400 and reply["error"]["code"] == -1100


def test_subscription_errors_carry_the_texts_of_errors_md(fake_exchange: RunningFake) -> None:
    trader, other = new_trader(fake_exchange), new_trader(fake_exchange)
    fake_exchange.streams.max_subscription_ids = 1
    with connect(fake_exchange.ws_api_url) as ws:
        assert call(ws, "userDataStream.subscribe.signature", signed_params(fake_exchange, trader))["status"] == 200
        again = call(ws, "userDataStream.subscribe.signature", signed_params(fake_exchange, trader))
        assert again["error"] == {"code": -2035, "msg": "User Data Stream subscription already active."}
        beyond = call(ws, "userDataStream.subscribe.signature", signed_params(fake_exchange, other))
        assert beyond["error"] == {"code": -2042, "msg": "Maximum subscription ID reached for this connection."}


def test_session_logon_takes_ed25519_keys_only_and_signs_later_requests(fake_exchange: RunningFake) -> None:
    ed, hmac_trader = new_trader(fake_exchange, ed=True), new_trader(fake_exchange)
    with connect(fake_exchange.ws_api_url) as ws:
        refused = call(ws, "session.logon", signed_params(fake_exchange, hmac_trader))
        assert refused["status"] == 401 and refused["error"]["code"] == -1002
        logon = call(ws, "session.logon", signed_params(fake_exchange, ed))
        assert logon["status"] == 200 and logon["result"]["apiKey"] == ed.api_key
        assert call(ws, "session.status")["result"]["authorizedSince"] == logon["result"]["authorizedSince"]
        account = call(ws, "account.status", {"timestamp": fake_exchange.exchange.server_time_ms()})
        assert account["status"] == 200 and any(b["asset"] == "USDT" for b in account["result"]["balances"])
        subscribed = call(ws, "userDataStream.subscribe")
        assert subscribed["result"] == {"subscriptionId": 0}
        assert call(ws, "session.status")["result"]["userDataStream"] is True
        placed = call(ws, "order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001",
                                          "timestamp": fake_exchange.exchange.server_time_ms()})
        assert placed["status"] == 200 and placed["result"]["status"] == "FILLED"
        report = recv(ws, lambda m: m.get("event", {}).get("X") == "FILLED")["event"]
        assert report["i"] == placed["result"]["orderId"] and report["e"] == "executionReport"
        assert call(ws, "session.logout")["result"]["apiKey"] is None
        unsigned = call(ws, "account.status", {"timestamp": fake_exchange.exchange.server_time_ms()})
        assert unsigned["status"] == 400 and unsigned["error"]["code"] == -1102


def test_order_and_account_methods_signed_per_request(fake_exchange: RunningFake) -> None:
    trader = new_trader(fake_exchange)
    with connect(fake_exchange.ws_api_url) as ws:
        placed = call(ws, "order.place", signed_params(fake_exchange, trader, symbol="BTCUSDT", side="BUY",
                                                       type="LIMIT", timeInForce="GTC", price="50000.00",
                                                       quantity="0.001"))
        assert placed["status"] == 200 and placed["result"]["status"] == "NEW"
        order_id = placed["result"]["orderId"]
        status = call(ws, "order.status", signed_params(fake_exchange, trader, symbol="BTCUSDT", orderId=order_id))
        assert status["result"]["orderId"] == order_id
        open_orders = call(ws, "openOrders.status", signed_params(fake_exchange, trader, symbol="BTCUSDT"))
        assert [o["orderId"] for o in open_orders["result"]] == [order_id]
        canceled = call(ws, "order.cancel", signed_params(fake_exchange, trader, symbol="BTCUSDT", orderId=order_id))
        assert canceled["result"]["status"] == "CANCELED"
        balances = call(ws, "account.status", signed_params(fake_exchange, trader))["result"]["balances"]
        usdt = next(b for b in balances if b["asset"] == "USDT")
        assert Decimal(usdt["free"]) == Decimal("100000") and Decimal(usdt["locked"]) == 0
        assert call(ws, "account.commission", signed_params(fake_exchange, trader, symbol="BTCUSDT"))["status"] == 200
        assert call(ws, "myTrades", signed_params(fake_exchange, trader, symbol="BTCUSDT"))["result"] == []
        bad = call(ws, "order.place", {**signed_params(fake_exchange, trader, symbol="BTCUSDT"), "signature": "00"})
        assert bad["error"]["code"] == -1022


def test_the_depth_method_answers_the_rest_snapshot(fake_exchange: RunningFake) -> None:
    with connect(fake_exchange.ws_api_url) as ws:
        result = call(ws, "depth", {"symbol": "BTCUSDT", "limit": 100})["result"]
    assert result == depth(fake_exchange)


DOC_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"  # web-socket-api.md's example key
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_TIMESTAMP = 1645423376532
DOC_REQUESTS = [  # web-socket-api.md, "SIGNED request example (HMAC)": both examples, their signatures
    ({"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01000000",
      "price": "52000.00", "recvWindow": 100}, "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"),
    ({"symbol": "１２３４５６", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "1.00000000",
      "price": "0.10000000", "recvWindow": 5000}, "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd"),
]


@pytest.mark.parametrize("params, signature", DOC_REQUESTS, ids=["ascii", "non-ascii"])
def test_the_documented_signature_examples_are_accepted(fake_exchange: RunningFake, params: dict[str, object],
                                                        signature: str) -> None:
    """The docs' examples sign the UTF-8 parameters as they are (no percent-encoding); the signature
    passes, so what follows is the order's own fate (the ASCII one trades, the other symbol is unknown)."""
    exchange = fake_exchange.exchange
    exchange.add_account(DOC_API_KEY, hmac_secret=DOC_SECRET)
    exchange.advance_time_ms(DOC_TIMESTAMP - 800 - exchange.server_time_ms())  # 800 ms before the request's time
    with connect(fake_exchange.ws_api_url) as ws:
        reply = call(ws, "order.place", {**params, "timestamp": DOC_TIMESTAMP, "apiKey": DOC_API_KEY,
                                         "signature": signature.upper()})  # an HMAC signature is not case-sensitive
    if params["symbol"] == "BTCUSDT":
        assert reply["status"] == 200 and reply["result"]["symbol"] == "BTCUSDT", reply
    else:
        assert reply["error"]["code"] == -1121, reply


def test_request_weight_is_counted_per_ip_with_rest_and_refused_past_the_limit(fake_exchange: RunningFake) -> None:
    """Connecting costs 2, ping 1, ``depth`` its REST weight; the count is the IP's, shared with REST;
    past the limit a request fails with 429 and -1003, naming when to retry."""
    exchange = fake_exchange.exchange
    with connect(fake_exchange.ws_api_url) as ws:
        assert call(ws, "ping")["rateLimits"][0]["count"] == 3
        assert call(ws, "depth", {"symbol": "BTCUSDT", "limit": 100})["rateLimits"][0]["count"] == 8
        assert exchange.used_weight() == 8
        exchange.weight_limit_per_minute = 9
        assert call(ws, "ping")["status"] == 200
        refused = call(ws, "ping")
    assert refused["status"] == 429 and refused["error"]["code"] == -1003
    assert refused["error"]["data"]["retryAfter"] > refused["error"]["data"]["serverTime"]
    assert refused["rateLimits"][0] == {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                                        "limit": 9, "count": 10}


def test_placing_orders_shows_the_accounts_orders_counts(fake_exchange: RunningFake) -> None:
    trader = new_trader(fake_exchange)
    with connect(fake_exchange.ws_api_url) as ws:
        for expected in (1, 2):
            placed = call(ws, "order.place", signed_params(fake_exchange, trader, symbol="BTCUSDT", side="BUY",
                                                           type="MARKET", quantity="0.001"))
            orders = [limit for limit in placed["rateLimits"] if limit["rateLimitType"] == "ORDERS"]
            assert [(o["interval"], o["count"]) for o in orders] == [("SECOND", expected), ("DAY", expected)]
            assert placed["rateLimits"][-1]["rateLimitType"] == "REQUEST_WEIGHT"
        status = call(ws, "order.status", signed_params(fake_exchange, trader, symbol="BTCUSDT",
                                                        orderId=placed["result"]["orderId"]))
    assert [limit["rateLimitType"] for limit in status["rateLimits"]] == ["REQUEST_WEIGHT"]
