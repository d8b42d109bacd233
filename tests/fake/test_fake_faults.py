"""Fault injection, rate limiting, clock skew and filter data of the fake Binance exchange.

Plain httpx against ``running_fake()``; HMAC-signed requests are built here. No sleeps: time moves
with ``Exchange.advance_time_ms`` and the only waits are injected server-side delays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any, Iterator
from urllib.parse import urlencode

import httpx
import pytest

from tests.fake_binance import Exchange, RunningFake, running_fake

API_KEY = "faultKey0001"
SECRET = "faultSecret0001"
WEIGHT = "X-MBX-USED-WEIGHT-1M"


@pytest.fixture
def fake() -> Iterator[RunningFake]:
    with running_fake() as running:
        running.exchange.add_account(API_KEY, hmac_secret=SECRET,
                                     balances={"USDT": "1000000", "BTC": "1", "SOL": "1000", "ETH": "10"})
        yield running


def signed(fake: RunningFake, method: str, path: str, params: dict[str, Any] | None = None, *,
           timestamp: int | None = None, timeout: float = 5.0) -> httpx.Response:
    """HMAC-sign ``params`` (timestamp from the fake's server clock unless given) and send them."""
    query = dict(params or {})
    query["timestamp"] = fake.exchange.server_time_ms() if timestamp is None else timestamp
    payload = urlencode(query)
    signature = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
    url = f"{fake.base_url}/api/v3/{path}?{payload}&signature={signature}"
    return httpx.request(method, url, headers={"X-MBX-APIKEY": API_KEY}, timeout=timeout)


def public(fake: RunningFake, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{fake.base_url}/api/v3/{path}", params=params)


def limit_order(fake: RunningFake, cid: str, *, timeout: float = 5.0, **extra: Any) -> httpx.Response:
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
              "price": "50000", "newClientOrderId": cid, **extra}
    return signed(fake, "POST", "order", params, timeout=timeout)


def align_to_minute_start(ex: Exchange) -> None:
    """Move the server clock to one second past a minute boundary so a test never straddles a window."""
    now = ex.server_time_ms()
    ex.advance_time_ms(60_000 - now % 60_000 + 1_000)


def query_by_cid(fake: RunningFake, cid: str) -> httpx.Response:
    return signed(fake, "GET", "order", {"symbol": "BTCUSDT", "origClientOrderId": cid})


# ----------------------------------------------------------------------------- clock skew
def test_clock_skew_gives_documented_1021(fake: RunningFake) -> None:
    ex = fake.exchange
    ex.clock_offset_ms = -3_000  # server behind: the client's clock is 3 s ahead
    ahead = signed(fake, "GET", "account", timestamp=ex.server_time_ms() + 3_000)
    assert ahead.status_code == 400
    assert ahead.json() == {"code": -1021, "msg": "Timestamp for this request was 1000ms ahead of the server's time."}
    assert signed(fake, "GET", "account", timestamp=ex.server_time_ms() + 999).status_code == 200
    ex.clock_offset_ms = 0
    ex.advance_time_ms(7_000)  # server ahead: a real-time timestamp is 7 s old
    old = signed(fake, "GET", "account", timestamp=ex.server_time_ms() - 7_000)
    assert old.json() == {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
    ok = signed(fake, "GET", "account", {"recvWindow": 10_000}, timestamp=ex.server_time_ms() - 7_000)
    assert ok.status_code == 200
    server_time = public(fake, "time").json()["serverTime"]
    assert abs(server_time - ex.server_time_ms()) < 1_000


# ----------------------------------------------------------------------------- weights
def weight_of(fake: RunningFake, resp_fn: Any) -> int:
    fake.exchange.reset_rate_limits()
    resp = resp_fn()
    assert resp.status_code == 200, resp.text
    assert int(resp.headers[WEIGHT]) == fake.exchange.used_weight()
    return int(resp.headers[WEIGHT])


def test_argument_dependent_weights(fake: RunningFake) -> None:
    three = json.dumps(["BTCUSDT", "ETHUSDT", "SOLUSDT"], separators=(",", ":"))
    cases: list[tuple[Any, int]] = [
        (lambda: public(fake, "ping"), 1),
        (lambda: public(fake, "exchangeInfo"), 20),
        (lambda: public(fake, "depth", symbol="BTCUSDT"), 5),
        (lambda: public(fake, "depth", symbol="BTCUSDT", limit=100), 5),
        (lambda: public(fake, "depth", symbol="BTCUSDT", limit=101), 25),
        (lambda: public(fake, "depth", symbol="BTCUSDT", limit=1000), 50),
        (lambda: public(fake, "depth", symbol="BTCUSDT", limit=5000), 250),
        (lambda: public(fake, "ticker/24hr", symbol="BTCUSDT"), 2),
        (lambda: public(fake, "ticker/24hr", symbols=three), 2),
        (lambda: public(fake, "ticker/24hr"), 80),
        (lambda: public(fake, "ticker/price", symbol="BTCUSDT"), 2),
        (lambda: public(fake, "ticker/price"), 4),
        (lambda: public(fake, "ticker/price", symbols=three), 4),
        (lambda: public(fake, "ticker/bookTicker", symbol="BTCUSDT"), 2),
        (lambda: public(fake, "ticker/bookTicker"), 4),
        (lambda: public(fake, "ticker/tradingDay", symbol="BTCUSDT"), 4),
        (lambda: public(fake, "ticker/tradingDay", symbols=three), 12),
        (lambda: public(fake, "ticker", symbols=three), 12),
        (lambda: public(fake, "executionRules", symbols=three), 6),
        (lambda: public(fake, "executionRules"), 40),
        (lambda: public(fake, "avgPrice", symbol="BTCUSDT"), 2),
        (lambda: signed(fake, "GET", "account"), 20),
        (lambda: signed(fake, "GET", "openOrders", {"symbol": "BTCUSDT"}), 6),
        (lambda: signed(fake, "GET", "openOrders"), 80),
        (lambda: signed(fake, "GET", "myTrades", {"symbol": "BTCUSDT"}), 20),
        (lambda: signed(fake, "GET", "myTrades", {"symbol": "BTCUSDT", "orderId": 1}), 5),
        (lambda: signed(fake, "GET", "rateLimit/order"), 40),
        (lambda: signed(fake, "POST", "order/test", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                     "quantity": "0.001"}), 1),
        (lambda: signed(fake, "POST", "order/test", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                     "quantity": "0.001", "computeCommissionRates": "true"}), 20),
    ]
    for call, expected in cases:
        assert weight_of(fake, call) == expected


def test_trading_day_weight_caps_at_200() -> None:
    ex = Exchange()
    from tests.fake_binance.endpoints import BY_ROUTE

    endpoint = BY_ROUTE[("GET", "/api/v3/ticker/tradingDay")]
    names = [f"S{i}" for i in range(60)]
    assert ex._weight(endpoint, {"symbols": json.dumps(names[:50])}) == 200
    assert ex._weight(endpoint, {"symbols": json.dumps(names[:51])}) == 200
    assert ex._weight(endpoint, {"symbols": json.dumps(names[:10])}) == 40
    ticker24 = BY_ROUTE[("GET", "/api/v3/ticker/24hr")]
    assert ex._weight(ticker24, {"symbols": json.dumps(names[:21])}) == 40
    many = [f"S{i}" for i in range(101)]
    assert ex._weight(ticker24, {"symbols": json.dumps(many)}) == 80


def test_weight_accumulates_and_resets_each_minute(fake: RunningFake) -> None:
    ex = fake.exchange
    align_to_minute_start(ex)
    first = public(fake, "exchangeInfo")
    second = public(fake, "depth", symbol="BTCUSDT", limit=200)
    assert int(second.headers[WEIGHT]) == int(first.headers[WEIGHT]) + 25
    ex.advance_time_ms(60_000)
    assert public(fake, "ping").headers[WEIGHT] == "1"


def test_exchange_info_rate_limits_follow_configuration(fake: RunningFake) -> None:
    fake.exchange.weight_limit_per_minute = 1234
    limits = public(fake, "exchangeInfo").json()["rateLimits"]
    assert limits == [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 1234},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
        {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
    ]


def test_429_then_418_when_retry_after_is_ignored(fake: RunningFake) -> None:
    ex = fake.exchange
    align_to_minute_start(ex)
    ex.weight_limit_per_minute = 25
    assert public(fake, "exchangeInfo").headers[WEIGHT] == "20"
    placed = limit_order(fake, "ok1")  # weight 1 -> 21
    assert placed.status_code == 200
    assert placed.headers["X-MBX-ORDER-COUNT-10S"] == "1" and placed.headers["X-MBX-ORDER-COUNT-1D"] == "1"
    # account (20) would push the minute to 41 > 25: 429, not executed.
    limited = signed(fake, "GET", "account")
    assert limited.status_code == 429
    assert limited.json() == {"code": -1003, "msg": "Too much request weight used; current limit is 25 request "
                              "weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid "
                              "polling the API."}
    retry_after = int(limited.headers["Retry-After"])
    assert 55 <= retry_after <= 59
    assert ex.rate_limit_hits == 1 and ex.ban_hits == 0
    assert ex.requests[-1].status == 429
    # Ignoring Retry-After: banned for ban_seconds, and the order is not placed.
    banned = limit_order(fake, "while-limited")
    assert banned.status_code == 418 and banned.json()["code"] == -1003
    assert banned.json()["msg"].startswith("Way too much request weight used; IP banned until ")
    until = int(banned.json()["msg"].split("until ")[1].split(".")[0])
    assert until == ex.banned_until_ms()
    assert int(banned.headers["Retry-After"]) == 120
    assert [o["clientOrderId"] for o in ex.orders_placed()] == ["ok1"]
    ex.advance_time_ms(60_000)  # still banned in the next minute
    still = public(fake, "ping")
    assert still.status_code == 418 and 59 <= int(still.headers["Retry-After"]) <= 60
    assert ex.ban_hits == 2
    ex.advance_time_ms(61_000)
    after = public(fake, "ping")
    assert after.status_code == 200 and after.headers[WEIGHT] == "1"


def test_backing_off_after_429_avoids_the_ban(fake: RunningFake) -> None:
    ex = fake.exchange
    align_to_minute_start(ex)
    ex.weight_limit_per_minute = 20
    assert public(fake, "exchangeInfo").status_code == 200
    limited = public(fake, "ping")
    assert limited.status_code == 429
    ex.advance_time_ms(int(limited.headers["Retry-After"]) * 1000)
    assert public(fake, "ping").status_code == 200
    assert ex.ban_hits == 0
    ex.weight_limit_per_minute = 6000  # changeable at runtime
    assert public(fake, "exchangeInfo").status_code == 200


# ----------------------------------------------------------------------------- one-shot faults
def test_error_before_does_not_execute(fake: RunningFake) -> None:
    ex = fake.exchange
    ex.inject("error_before", path="/api/v3/order", method="POST", times=2)
    ex.inject("error_before", path="/api/v3/order", method="POST", status=500)
    assert ex.faults_pending() == 3
    for _ in range(2):
        busy = limit_order(fake, "eb1")
        assert busy.status_code == 503
        assert busy.json() == {"code": -1008, "msg": "Server is currently overloaded with other requests. "
                               "Please try again in a few minutes."}
    unknown = limit_order(fake, "eb1")
    assert unknown.status_code == 500 and unknown.json()["code"] == -1000
    assert ex.orders_placed() == [] and ex.faults_pending() == 0
    assert limit_order(fake, "eb1").status_code == 200
    # Query endpoints are unaffected by a method-specific fault.
    ex.inject("error_before", path="order", method="POST")
    assert query_by_cid(fake, "eb1").status_code == 200
    ex.clear_faults()
    assert ex.faults_pending() == 0


def test_error_before_429_and_418_carry_retry_after(fake: RunningFake) -> None:
    ex = fake.exchange
    ex.inject("error_before", path="/api/v3/account", status=429, retry_after=7)
    ex.inject("error_before", path="/api/v3/account", status=418)
    ex.inject("error_before", path="/api/v3/account", status=502, code=-1006, msg="custom")
    limited = signed(fake, "GET", "account")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert limited.json()["code"] == -1003 and "request weight per 1 MINUTE" in limited.json()["msg"]
    banned = signed(fake, "GET", "account")
    assert banned.status_code == 418 and banned.headers["Retry-After"] == "120"
    assert "IP banned until" in banned.json()["msg"]
    assert signed(fake, "GET", "account").json() == {"code": -1006, "msg": "custom"}
    assert ex.rate_limit_hits == 1 and ex.ban_hits == 1
    assert signed(fake, "GET", "account").status_code == 200  # one-shot: no real ban


def test_error_after_executes_then_reports_unknown_status(fake: RunningFake) -> None:
    ex = fake.exchange
    ex.inject("error_after", path="/api/v3/order", method="POST")
    resp = limit_order(fake, "ea1")
    assert resp.status_code == 503
    assert resp.json() == {"code": -1007, "msg": "Timeout waiting for response from backend server. "
                           "Send status unknown; execution status unknown."}
    found = query_by_cid(fake, "ea1")
    assert found.status_code == 200 and found.json()["status"] == "NEW"
    opened = signed(fake, "GET", "openOrders", {"symbol": "BTCUSDT"}).json()
    assert [o["clientOrderId"] for o in opened] == ["ea1"]
    history = signed(fake, "GET", "allOrders", {"symbol": "BTCUSDT"}).json()
    assert [o["clientOrderId"] for o in history] == ["ea1"]
    # A blind retry with the same client id is rejected; still exactly one order.
    retry = limit_order(fake, "ea1")
    assert retry.json() == {"code": -2010, "msg": "Duplicate order sent."}
    placed = ex.orders_placed("BTCUSDT")
    assert len(placed) == 1 and placed[0]["clientOrderId"] == "ea1" and placed[0]["status"] == "NEW"
    # Cancels execute too.
    ex.inject("error_after", path="/api/v3/order", method="DELETE", status=500, code=-1006)
    cancel = signed(fake, "DELETE", "order", {"symbol": "BTCUSDT", "origClientOrderId": "ea1"})
    assert cancel.status_code == 500 and cancel.json()["code"] == -1006
    assert query_by_cid(fake, "ea1").json()["status"] == "CANCELED"


def test_drop_after_executes_and_client_sees_transport_error(fake: RunningFake) -> None:
    ex = fake.exchange
    ex.inject("drop_after", path="/api/v3/order", method="POST")
    with httpx.Client() as client:
        assert client.get(f"{fake.base_url}/api/v3/ping").status_code == 200  # a pooled keep-alive connection
        params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
                  "price": "50000", "newClientOrderId": "drop1", "timestamp": ex.server_time_ms()}
        payload = urlencode(params)
        sig = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
        with pytest.raises(httpx.TransportError) as info:
            client.post(f"{fake.base_url}/api/v3/order?{payload}&signature={sig}", headers={"X-MBX-APIKEY": API_KEY})
        assert isinstance(info.value, (httpx.RemoteProtocolError, httpx.ReadError))
        assert client.get(f"{fake.base_url}/api/v3/ping").status_code == 200  # the client recovers
    assert query_by_cid(fake, "drop1").json()["status"] == "NEW"
    assert [o["clientOrderId"] for o in ex.orders_placed()] == ["drop1"]
    assert ex.faults_pending() == 0


def test_delay_times_out_client_and_order_still_executes(fake: RunningFake) -> None:
    ex = fake.exchange
    ex.inject("delay", path="/api/v3/order", method="POST", delay_s=0.4)
    with pytest.raises(httpx.ReadTimeout):
        limit_order(fake, "slow1", timeout=0.15)
    assert ex.wait_idle(timeout=5.0)  # the server finishes the abandoned request
    assert query_by_cid(fake, "slow1").json()["status"] == "NEW"
    assert len(ex.orders_placed()) == 1


def test_delay_after_executes_before_the_slow_reply(fake: RunningFake) -> None:
    ex = fake.exchange
    ex.inject("delay_after", path="order", method="POST", delay_s=0.4)
    with pytest.raises(httpx.ReadTimeout):
        limit_order(fake, "slow2", timeout=0.15)
    assert query_by_cid(fake, "slow2").json()["status"] == "NEW"  # executed before the reply was held
    assert ex.wait_idle(timeout=5.0)


def test_rate_limited_request_does_not_consume_a_shot(fake: RunningFake) -> None:
    ex = fake.exchange
    align_to_minute_start(ex)
    ex.weight_limit_per_minute = 20
    public(fake, "exchangeInfo")
    ex.inject("error_after", path="/api/v3/order", method="POST")
    assert limit_order(fake, "rl1").status_code == 429
    assert ex.faults_pending() == 1 and ex.orders_placed() == []


def test_inject_rejects_unknown_kind(fake: RunningFake) -> None:
    with pytest.raises(ValueError):
        fake.exchange.inject("explode", path="/api/v3/order")


# ----------------------------------------------------------------------------- filters
def test_every_symbol_serves_the_filter_set(fake: RunningFake) -> None:
    info = public(fake, "exchangeInfo").json()
    wanted = {"PRICE_FILTER", "LOT_SIZE", "MARKET_LOT_SIZE", "PERCENT_PRICE_BY_SIDE", "ICEBERG_PARTS",
              "MAX_NUM_ORDERS", "NOTIONAL"}
    for sym in info["symbols"]:
        types = {f["filterType"] for f in sym["filters"]}
        assert wanted <= types, sym["symbol"]
    sol = {f["filterType"]: f for f in next(s for s in info["symbols"] if s["symbol"] == "SOLUSDT")["filters"]}
    assert sol["PRICE_FILTER"] == {"filterType": "PRICE_FILTER", "minPrice": "0.00100000",
                                   "maxPrice": "50000.00000000", "tickSize": "0.00050000"}
    assert sol["LOT_SIZE"]["stepSize"] == "0.10000000"
    assert sol["MARKET_LOT_SIZE"] == {"filterType": "MARKET_LOT_SIZE", "minQty": "0.20000000",
                                      "maxQty": "500.00000000", "stepSize": "0.20000000"}
    assert sol["NOTIONAL"]["applyMinToMarket"] is False and sol["NOTIONAL"]["applyMaxToMarket"] is True
    assert set(sol["NOTIONAL"]) == {"filterType", "minNotional", "applyMinToMarket", "maxNotional",
                                    "applyMaxToMarket", "avgPriceMins"}
    ethbtc = {f["filterType"] for f in next(s for s in info["symbols"] if s["symbol"] == "ETHBTC")["filters"]}
    assert "MIN_NOTIONAL" in ethbtc


def sol_test(fake: RunningFake, **params: Any) -> httpx.Response:
    base = {"symbol": "SOLUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "1",
            "price": "150"}
    base.update({k: v for k, v in params.items() if v is not None})
    for key in [k for k, v in params.items() if v is None]:
        base.pop(key, None)
    return signed(fake, "POST", "order/test", base)


def failure(resp: httpx.Response) -> str:
    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] == -1013, resp.text
    return resp.json()["msg"]


@pytest.mark.parametrize(("params", "expected"), [
    ({"price": "150.0003"}, "PRICE_FILTER"),  # not a multiple of tickSize 0.0005
    ({"price": "0.0005", "quantity": "100"}, "PRICE_FILTER"),  # below minPrice
    ({"price": "50000.0005"}, "PRICE_FILTER"),  # above maxPrice
    ({"type": "STOP_LOSS_LIMIT", "stopPrice": "140.0001", "price": "140"}, "PRICE_FILTER"),  # stopPrice too
    ({"price": "180.0005"}, "PERCENT_PRICE_BY_SIDE"),  # BUY > avg * bidMultiplierUp (1.2)
    ({"side": "SELL", "price": "119.9995"}, "PERCENT_PRICE_BY_SIDE"),  # SELL < avg * askMultiplierDown (0.8)
    ({"quantity": "1.15"}, "LOT_SIZE"),  # not a multiple of stepSize 0.1
    ({"quantity": "0.05", "price": "150"}, "LOT_SIZE"),  # below minQty
    ({"quantity": "1", "icebergQty": "0.15"}, "LOT_SIZE"),  # icebergQty follows LOT_SIZE too
    ({"type": "MARKET", "timeInForce": None, "price": None, "quantity": "0.3"}, "MARKET_LOT_SIZE"),  # step 0.2
    ({"type": "MARKET", "timeInForce": None, "price": None, "quantity": "600"}, "MARKET_LOT_SIZE"),  # > maxQty
    ({"quantity": "2", "icebergQty": "0.1"}, "ICEBERG_PARTS"),  # ceil(2 / 0.1) = 20 > limit 10
    ({"quantity": "0.1", "price": "40"}, "NOTIONAL"),  # 4 < minNotional 5
    ({"quantity": "700", "price": "150"}, "NOTIONAL"),  # 105000 > maxNotional 100000
    ({"type": "MARKET", "timeInForce": None, "price": None, "quantity": "680"}, "MARKET_LOT_SIZE"),
    ({"type": "STOP_LOSS_LIMIT", "side": "SELL", "stopPrice": None, "trailingDelta": "5", "price": "140"},
     "TRAILING_DELTA"),
])
def test_filter_failures(fake: RunningFake, params: dict[str, Any], expected: str) -> None:
    assert failure(sol_test(fake, **params)) == f"Filter failure: {expected}"


def test_filter_passes_on_exact_steps_and_market_min_not_applied(fake: RunningFake) -> None:
    assert sol_test(fake, price="150.0005", quantity="1.1").json() == {}
    assert sol_test(fake, price="180", quantity="0.1").json() == {}  # exactly avg * 1.2
    assert sol_test(fake, side="SELL", price="120").json() == {}  # exactly avg * 0.8
    assert sol_test(fake, side="SELL", price="700").json() == {}  # ask side allows up to 5x
    market = {"type": "MARKET", "timeInForce": None, "price": None}
    assert sol_test(fake, **market, quantity="0.2").json() == {}
    assert sol_test(fake, **market, quoteOrderQty="1", quantity=None).json() == {}  # applyMinToMarket false
    # quoteOrderQty: the quantity is unknown before execution, so maxNotional is not evaluated.
    assert sol_test(fake, **market, quoteOrderQty="100001", quantity=None).json() == {}
    below = signed(fake, "POST", "order/test", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                "quoteOrderQty": "4.99"})
    assert failure(below) == "Filter failure: NOTIONAL"  # BTCUSDT applies minNotional 5 to MARKET


def test_market_notional_uses_average_price(fake: RunningFake) -> None:
    market = {"type": "MARKET", "timeInForce": None, "price": None, "quantity": "400"}
    assert sol_test(fake, **market).json() == {}  # 400 * 150 = 60000
    fake.exchange.set_avg_price("SOLUSDT", "300")
    assert public(fake, "avgPrice", symbol="SOLUSDT").json()["price"] == "300.00000000"
    assert failure(sol_test(fake, **market)) == "Filter failure: NOTIONAL"  # 400 * 300 > 100000
    # The average price also moves the PERCENT_PRICE_BY_SIDE band.
    assert sol_test(fake, price="300").json() == {}


def test_min_notional_and_max_num_orders(fake: RunningFake) -> None:
    tiny = signed(fake, "POST", "order/test", {"symbol": "ETHBTC", "side": "BUY", "type": "LIMIT",
                                               "timeInForce": "GTC", "quantity": "0.001", "price": "0.05"})
    assert failure(tiny) == "Filter failure: MIN_NOTIONAL"
    fake.exchange.symbols["SOLUSDT"].max_num_orders = 1
    assert signed(fake, "POST", "order", {"symbol": "SOLUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                          "quantity": "1", "price": "140"}).status_code == 200
    second = signed(fake, "POST", "order", {"symbol": "SOLUSDT", "side": "BUY", "type": "LIMIT",
                                            "timeInForce": "GTC", "quantity": "1", "price": "140"})
    assert failure(second) == "Filter failure: MAX_NUM_ORDERS"
    info = public(fake, "exchangeInfo", symbol="SOLUSDT").json()
    served = {f["filterType"]: f for f in info["symbols"][0]["filters"]}
    assert served["MAX_NUM_ORDERS"]["maxNumOrders"] == 1


def test_filter_math_is_decimal() -> None:
    from tests.fake_binance.filters import check_lot, check_price_filter

    price_filter = {"minPrice": "0.00100000", "maxPrice": "0", "tickSize": "0.00050000"}
    assert check_price_filter(price_filter, Decimal("0.3"))  # float % would fail this
    assert not check_price_filter(price_filter, Decimal("0.30001"))
    assert check_price_filter(price_filter, Decimal("99999999"))  # maxPrice 0 disables the upper bound
    assert check_lot({"minQty": "0.1", "maxQty": "90000", "stepSize": "0.1"}, Decimal("0.3"))
    assert check_lot({"minQty": "0", "maxQty": "100", "stepSize": "0"}, Decimal("0.123456789"))
