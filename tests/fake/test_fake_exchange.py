"""Tests of the fake Binance Spot exchange itself, including conformance with the official SDK.

Requests signed by ``binance_sdk_spot`` (HMAC, RSA and Ed25519 keys) must be accepted; requests
that break the documented rules must be rejected with the documented codes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterator
from urllib.parse import urlencode

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from tests.fake_binance import ENDPOINTS, Exchange, RunningFake, running_fake
from tests.fake_binance.auth import ApiKey, signature_payload, verify_signature
from tests.fake_binance.params import RawRequest

# Public example from rest-api.md ("SIGNED Endpoint Examples", HMAC keys).
DOC_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_PAYLOAD = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
)
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
DOC_NON_ASCII_SIGNATURE = "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"


# ----------------------------------------------------------------------------- helpers
@dataclass
class Key:
    """A throwaway API key of one type, registered on the fake."""

    api_key: str
    kind: str
    secret: str | None = None
    private: Any = None
    private_pem: str | None = None

    def sign(self, payload: bytes) -> str:
        """Signature as the docs describe for this key type."""
        if self.kind == "HMAC":
            assert self.secret is not None
            return hmac.new(self.secret.encode(), payload, hashlib.sha256).hexdigest()
        if self.kind == "RSA":
            return base64.b64encode(self.private.sign(payload, padding.PKCS1v15(), hashes.SHA256())).decode()
        return base64.b64encode(self.private.sign(payload)).decode()


def _pems(private: Any) -> tuple[str, str]:
    priv = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()
    pub = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return priv, pub


@pytest.fixture(scope="module")
def key_material() -> dict[str, tuple[Any, str, str]]:
    """One RSA and one Ed25519 private key per module (RSA generation is the slow part)."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    return {"RSA": (rsa_key, *_pems(rsa_key)), "ED25519": (ed_key, *_pems(ed_key))}


@pytest.fixture(scope="module")
def server() -> Iterator[RunningFake]:
    """One server per module; tests that need a pristine exchange use ``fake_exchange``."""
    with running_fake() as fake:
        yield fake


def register(exchange: Exchange, kind: str, material: dict[str, tuple[Any, str, str]],
             balances: dict[str, str] | None = None) -> Key:
    """Create a new account with a key of ``kind`` on ``exchange``."""
    api_key = f"{kind.lower()}Key{len(exchange.keys) + 1:04d}"
    if kind == "HMAC":
        secret = f"secret{len(exchange.keys)}X"
        exchange.add_account(api_key, hmac_secret=secret, balances=balances)
        return Key(api_key, kind, secret=secret)
    private, private_pem, public_pem = material[kind]
    exchange.add_account(api_key, public_key_pem=public_pem, balances=balances)
    return Key(api_key, kind, private=private, private_pem=private_pem)


def now_ms() -> int:
    return int(time.time() * 1000)


def signed(fake: RunningFake, key: Key | None, method: str, path: str, params: dict[str, Any] | None = None,
           *, body: dict[str, Any] | None = None, timestamp: int | None = None, signature: str | None = None,
           api_key: str | None = None) -> httpx.Response:
    """Send a signed request: query (+ optional form body) signed over their raw concatenation."""
    query_params = dict(params or {})
    if "timestamp" not in query_params and "timestamp" not in (body or {}):
        query_params["timestamp"] = timestamp if timestamp is not None else now_ms()
    query = urlencode(query_params)
    raw_body = urlencode(body) if body else ""
    sig = signature if signature is not None else (key.sign((query + raw_body).encode()) if key else "0")
    headers = {}
    if api_key is not None or key is not None:
        headers["X-MBX-APIKEY"] = api_key if api_key is not None else key.api_key  # type: ignore[union-attr]
    url = f"{fake.base_url}/api/v3/{path}?{query}&signature={_pct(sig)}"
    if raw_body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return httpx.request(method, url, content=raw_body.encode() if raw_body else None, headers=headers)


def _pct(value: str) -> str:
    return urlencode({"x": value})[2:]


def public(fake: RunningFake, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{fake.base_url}/api/v3/{path}", params=params)


def err(resp: httpx.Response) -> int:
    return resp.json()["code"]


# ----------------------------------------------------------------------------- the endpoint table
def test_endpoint_table_covers_48_routes_with_sane_sets() -> None:
    assert len(ENDPOINTS) == 48
    assert len({(e.method, e.path) for e in ENDPOINTS}) == 48
    for ep in ENDPOINTS:
        assert ep.path.startswith("/api/v3/")
        assert ep.security in ("NONE", "TRADE", "USER_DATA")
        assert not ({"timestamp", "signature"} & ep.all_params), ep.path
        assert not (ep.required & ep.optional), ep.path
        assert set(ep.param_types) == set(ep.all_params), ep.path
        if ep.signed and ep.path != "/api/v3/account/commission":
            assert "recvWindow" in ep.optional, ep.path
        if not ep.signed:
            assert "recvWindow" not in ep.all_params, ep.path


# ----------------------------------------------------------------------------- HMAC documented vector
def test_documented_hmac_vector_is_accepted() -> None:
    key = ApiKey(DOC_API_KEY, hmac_secret=DOC_SECRET)
    assert verify_signature(key, DOC_PAYLOAD.encode(), DOC_SIGNATURE)
    assert verify_signature(key, DOC_PAYLOAD.encode(), DOC_SIGNATURE.upper())  # case-insensitive
    assert not verify_signature(key, DOC_PAYLOAD.encode() + b"0", DOC_SIGNATURE)
    # The exact documented request line: signature taken out of the raw query string.
    req = RawRequest("POST", "/api/v3/order", f"{DOC_PAYLOAD}&signature={DOC_SIGNATURE}".encode(), b"", {})
    payload, sig = signature_payload(req)
    assert payload == DOC_PAYLOAD.encode() and sig == DOC_SIGNATURE


def test_documented_non_ascii_vector_raw_bytes_are_percent_encoded_before_verifying() -> None:
    key = ApiKey(DOC_API_KEY, hmac_secret=DOC_SECRET)
    raw = DOC_PAYLOAD.replace("LTCBTC", "１２３４５６").encode("utf-8")
    req = RawRequest("POST", "/api/v3/order", raw + f"&signature={DOC_NON_ASCII_SIGNATURE}".encode(), b"", {})
    payload, sig = signature_payload(req)
    assert sig is not None and verify_signature(key, payload, sig)


def test_documented_key_signs_a_live_request(fake_exchange: RunningFake) -> None:
    fake_exchange.exchange.add_account(DOC_API_KEY, hmac_secret=DOC_SECRET)
    key = Key(DOC_API_KEY, "HMAC", secret=DOC_SECRET)
    resp = signed(fake_exchange, key, "GET", "account", {"recvWindow": 5000})
    assert resp.status_code == 200, resp.text
    # The documented timestamp is long past: same signature scheme, rejected on timing.
    old = signed(fake_exchange, key, "GET", "account", timestamp=1499827319559)
    assert err(old) == -1021


# ----------------------------------------------------------------------------- SDK conformance
def _sdk_client(fake: RunningFake, key: Key) -> Any:
    from binance_common.configuration import ConfigurationRestAPI
    from binance_sdk_spot.spot import Spot

    if key.kind == "HMAC":
        cfg = ConfigurationRestAPI(api_key=key.api_key, api_secret=key.secret, base_path=fake.base_url, retries=0,
                                   timeout=5000)
    else:
        cfg = ConfigurationRestAPI(api_key=key.api_key, private_key=key.private_pem, base_path=fake.base_url,
                                   retries=0, timeout=5000)
    return Spot(config_rest_api=cfg).rest_api


@pytest.mark.parametrize("kind", ["HMAC", "RSA", "ED25519"])
def test_sdk_signed_requests_are_accepted(server: RunningFake, key_material: Any, kind: str) -> None:
    from binance_sdk_spot.rest_api.models import (
        NewOrderSideEnum,
        NewOrderTimeInForceEnum,
        NewOrderTypeEnum,
        OrderTestSideEnum,
        OrderTestTypeEnum,
    )

    key = register(server.exchange, kind, key_material)
    client = _sdk_client(server, key)

    account = client.get_account(omit_zero_balances=True, recv_window=10000)
    assert account.status == 200
    assets = {b.asset: Decimal(b.free) for b in account.data().balances}
    assert assets["USDT"] == Decimal("100000")

    test = client.order_test(symbol="BTCUSDT", side=OrderTestSideEnum.BUY, type=OrderTestTypeEnum.MARKET,
                             quantity=0.001)
    assert test.status == 200
    with_rates = client.order_test(symbol="BTCUSDT", side=OrderTestSideEnum.BUY, type=OrderTestTypeEnum.MARKET,
                                   quantity=0.001, compute_commission_rates=True)
    assert with_rates.data().standard_commission_for_order.taker == "0.00100000"

    order = client.new_order(symbol="BTCUSDT", side=NewOrderSideEnum.BUY, type=NewOrderTypeEnum.MARKET,
                             quantity=0.001)
    data = order.data()
    assert data.status == "FILLED" and data.executed_qty == "0.00100000" and data.fills
    assert order.headers["X-MBX-ORDER-COUNT-10S"] == "1"
    resting = client.new_order(symbol="BTCUSDT", side=NewOrderSideEnum.SELL, type=NewOrderTypeEnum.LIMIT,
                               time_in_force=NewOrderTimeInForceEnum.GTC, quantity=0.01, price=70000)
    assert resting.data().status == "NEW"
    assert client.get_order(symbol="BTCUSDT", order_id=resting.data().order_id).data().status == "NEW"
    assert client.delete_order(symbol="BTCUSDT", order_id=resting.data().order_id).data().status == "CANCELED"
    free, locked = server.exchange.balance(key.api_key, "BTC")
    assert locked == 0 and free == Decimal("1") + Decimal("0.001") - Decimal("0.000001")
    paths = [r.path for r in server.exchange.requests if r.headers.get("x-mbx-apikey") == key.api_key]
    assert "/api/v3/order/test" in paths and "/api/v3/order" in paths


def test_sdk_public_calls(server: RunningFake) -> None:
    from binance_common.configuration import ConfigurationRestAPI
    from binance_sdk_spot.spot import Spot

    client = Spot(config_rest_api=ConfigurationRestAPI(base_path=server.base_url, retries=0)).rest_api
    info = client.exchange_info(symbols=["BTCUSDT", "ETHBTC"]).data()
    assert [s.symbol for s in info.symbols] == ["BTCUSDT", "ETHBTC"]
    prices = client.ticker_price(symbols=["BTCUSDT", "ETHUSDT"]).data().actual_instance
    assert {p.symbol for p in prices} == {"BTCUSDT", "ETHUSDT"}
    assert client.time().data().server_time > 0
    assert client.depth(symbol="BTCUSDT", limit=5).data().bids


# ----------------------------------------------------------------------------- rejections
@pytest.fixture
def hmac_key(server: RunningFake, key_material: Any) -> Key:
    return register(server.exchange, "HMAC", key_material)


def test_wrong_signature_rejected(server: RunningFake, hmac_key: Key) -> None:
    resp = signed(server, hmac_key, "GET", "account", signature="0" * 64)
    assert resp.status_code == 400 and err(resp) == -1022


@pytest.mark.parametrize("kind", ["RSA", "ED25519"])
def test_wrong_asymmetric_signature_rejected(server: RunningFake, key_material: Any, kind: str) -> None:
    key = register(server.exchange, kind, key_material)
    assert signed(server, key, "GET", "account").status_code == 200
    bad = signed(server, key, "GET", "account", signature=base64.b64encode(b"x" * 64).decode())
    assert err(bad) == -1022


def test_stale_timestamp_rejected(server: RunningFake, hmac_key: Key) -> None:
    resp = signed(server, hmac_key, "GET", "account", timestamp=now_ms() - 6000)
    assert resp.status_code == 400 and err(resp) == -1021
    ok = signed(server, hmac_key, "GET", "account", {"recvWindow": 10000}, timestamp=now_ms() - 6000)
    assert ok.status_code == 200


def test_future_timestamp_rejected(server: RunningFake, hmac_key: Key) -> None:
    resp = signed(server, hmac_key, "GET", "account", timestamp=now_ms() + 2000)
    assert err(resp) == -1021
    assert "ahead" in resp.json()["msg"]


def test_microsecond_timestamp_accepted(server: RunningFake, hmac_key: Key) -> None:
    assert signed(server, hmac_key, "GET", "account", timestamp=now_ms() * 1000).status_code == 200


def test_recv_window_over_max_rejected(server: RunningFake, hmac_key: Key) -> None:
    resp = signed(server, hmac_key, "GET", "account", {"recvWindow": 60001})
    assert resp.status_code == 400 and err(resp) == -1102
    assert signed(server, hmac_key, "GET", "account", {"recvWindow": "60000"}).status_code == 200
    assert signed(server, hmac_key, "GET", "account", {"recvWindow": "6000.346"}).status_code == 200


def test_missing_mandatory_param_rejected(server: RunningFake, hmac_key: Key) -> None:
    resp = signed(server, hmac_key, "POST", "order", {"side": "BUY", "type": "MARKET", "quantity": "0.001"})
    assert err(resp) == -1102 and "'symbol'" in resp.json()["msg"]
    missing_ts = httpx.get(f"{server.base_url}/api/v3/account?signature=00",
                           headers={"X-MBX-APIKEY": hmac_key.api_key})
    assert err(missing_ts) == -1102
    assert err(public(server, "depth")) == -1102


def test_unknown_param_rejected(server: RunningFake, hmac_key: Key) -> None:
    resp = signed(server, hmac_key, "GET", "account", {"foo": "bar"})
    assert resp.status_code == 400 and err(resp) == -1104
    assert err(public(server, "ping", foo="1")) == -1104


def test_unknown_and_missing_api_key_rejected(server: RunningFake, hmac_key: Key) -> None:
    unknown = signed(server, hmac_key, "GET", "account", api_key="NoSuchKey123")
    assert unknown.status_code == 401 and err(unknown) == -2015
    missing = signed(server, None, "GET", "account")
    assert missing.status_code == 401 and err(missing) == -2014


def test_bad_enum_values_rejected(server: RunningFake, hmac_key: Key) -> None:
    base = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
    assert err(signed(server, hmac_key, "POST", "order", base | {"side": "HOLD"})) == -1117
    assert err(signed(server, hmac_key, "POST", "order", base | {"type": "ICEBERG"})) == -1116
    assert err(signed(server, hmac_key, "POST", "order", base | {"type": "LIMIT", "price": "60000",
                                                                  "timeInForce": "GTX"})) == -1115
    assert err(signed(server, hmac_key, "POST", "order", base | {"newOrderRespType": "ALL"})) == -1100
    assert err(public(server, "klines", symbol="BTCUSDT", interval="2d")) == -1120
    assert err(public(server, "ticker/24hr", symbol="BTCUSDT", type="TINY")) == -1139


def test_malformed_numbers_and_symbols(server: RunningFake, hmac_key: Key) -> None:
    base = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"}
    assert err(signed(server, hmac_key, "POST", "order", base | {"quantity": "1e-3"})) == -1100
    assert err(public(server, "depth", symbol="BTCUSDT", limit="ten")) == -1100
    assert err(public(server, "ticker/price", symbols="BTCUSDT")) == -1100
    assert err(public(server, "ticker/price", symbols='["BTCUSDT","BTCUSDT"]')) == -1151
    assert err(public(server, "ticker/price", symbol="NOPE")) == -1121


def test_unknown_route_is_404(server: RunningFake) -> None:
    resp = httpx.get(f"{server.base_url}/api/v3/nothing")
    assert resp.status_code == 404 and "code" in resp.json()
    assert "X-MBX-USED-WEIGHT-1M" in resp.headers


# ----------------------------------------------------------------------------- transport details
def test_query_and_body_are_signed_together_and_query_wins(fake_exchange: RunningFake, key_material: Any) -> None:
    key = register(fake_exchange.exchange, "HMAC", key_material)
    resp = signed(fake_exchange, key, "POST", "order", {"symbol": "BTCUSDT", "quantity": "0.002"},
                  body={"side": "BUY", "type": "MARKET", "quantity": "0.001", "timestamp": now_ms()})
    assert resp.status_code == 200, resp.text
    assert resp.json()["origQty"] == "0.00200000"
    record = fake_exchange.exchange.requests[-1]
    assert record.body.startswith("side=BUY") and record.params["quantity"] == "0.002"
    assert record.status == 200 and record.headers["x-mbx-apikey"] == key.api_key


def test_weight_header_and_clock_offset(fake_exchange: RunningFake, key_material: Any) -> None:
    first = public(fake_exchange, "exchangeInfo")
    second = public(fake_exchange, "ping")
    assert int(second.headers["X-MBX-USED-WEIGHT-1M"]) == int(first.headers["X-MBX-USED-WEIGHT-1M"]) + 1
    fake_exchange.exchange.clock_offset_ms = 10_000
    server_time = public(fake_exchange, "time").json()["serverTime"]
    assert server_time - now_ms() > 9_000
    key = register(fake_exchange.exchange, "HMAC", key_material)
    assert err(signed(fake_exchange, key, "GET", "account")) == -1021
    assert signed(fake_exchange, key, "GET", "account", timestamp=server_time).status_code == 200


# ----------------------------------------------------------------------------- matching and state
@pytest.fixture
def trader(fake_exchange: RunningFake, key_material: Any) -> Key:
    return register(fake_exchange.exchange, "ED25519", key_material)


def order(fake: RunningFake, key: Key, **params: Any) -> httpx.Response:
    return signed(fake, key, "POST", "order", {"symbol": "BTCUSDT", **params})


def test_limit_order_rests_locks_and_cancel_releases(fake_exchange: RunningFake, trader: Key) -> None:
    resp = order(fake_exchange, trader, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.1",
                 price="50000", newClientOrderId="myOrder1")
    assert resp.status_code == 200 and resp.json()["status"] == "NEW" and resp.json()["fills"] == []
    assert fake_exchange.exchange.balance(trader.api_key, "USDT") == (Decimal("95000"), Decimal("5000"))
    dup = order(fake_exchange, trader, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.1",
                price="50000", newClientOrderId="myOrder1")
    assert err(dup) == -2010 and dup.json()["msg"] == "Duplicate order sent."
    book = public(fake_exchange, "depth", symbol="BTCUSDT").json()
    assert ["50000.00000000", "0.10000000"] in book["bids"]
    opened = signed(fake_exchange, trader, "GET", "openOrders", {"symbol": "BTCUSDT"}).json()
    assert [o["clientOrderId"] for o in opened] == ["myOrder1"]
    cancel = signed(fake_exchange, trader, "DELETE", "order", {"symbol": "BTCUSDT", "origClientOrderId": "myOrder1"})
    assert cancel.json()["status"] == "CANCELED" and cancel.json()["origClientOrderId"] == "myOrder1"
    assert fake_exchange.exchange.balance(trader.api_key, "USDT") == (Decimal("100000"), Decimal("0"))
    again = signed(fake_exchange, trader, "DELETE", "order", {"symbol": "BTCUSDT", "origClientOrderId": "myOrder1"})
    assert err(again) == -2011
    missing = signed(fake_exchange, trader, "GET", "order", {"symbol": "BTCUSDT", "orderId": 999})
    assert err(missing) == -2013


def test_crossing_limit_fills_partially_then_rests(fake_exchange: RunningFake, trader: Key) -> None:
    resp = order(fake_exchange, trader, side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.6",
                 price="59970", newOrderRespType="FULL").json()
    assert resp["status"] == "PARTIALLY_FILLED" and resp["executedQty"] == "0.50000000"
    assert resp["fills"][0]["price"] == "59970.00000000" and resp["fills"][0]["commissionAsset"] == "USDT"
    trades = signed(fake_exchange, trader, "GET", "myTrades", {"symbol": "BTCUSDT"}).json()
    assert len(trades) == 1 and trades[0]["isBuyer"] is False
    ack = order(fake_exchange, trader, side="BUY", type="MARKET", quantity="0.01", newOrderRespType="ACK").json()
    assert set(ack) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}


def test_time_in_force_and_limit_maker(fake_exchange: RunningFake, trader: Key) -> None:
    fok = order(fake_exchange, trader, side="BUY", type="LIMIT", timeInForce="FOK", quantity="5", price="60030")
    assert fok.json()["status"] == "EXPIRED" and fok.json()["executedQty"] == "0.00000000"
    ioc = order(fake_exchange, trader, side="BUY", type="LIMIT", timeInForce="IOC", quantity="0.6", price="60030")
    assert ioc.json()["status"] == "EXPIRED" and ioc.json()["executedQty"] == "0.50000000"
    maker = order(fake_exchange, trader, side="BUY", type="LIMIT_MAKER", quantity="0.01", price="60090")
    assert err(maker) == -2010 and maker.json()["msg"] == "Order would immediately match and take."
    quote = order(fake_exchange, trader, side="BUY", type="MARKET", quoteOrderQty="100").json()
    assert quote["status"] == "FILLED" and Decimal(quote["cummulativeQuoteQty"]) <= 100


def test_filters_and_balance(fake_exchange: RunningFake, trader: Key) -> None:
    limit = {"side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    tick = order(fake_exchange, trader, **limit, quantity="0.01", price="50000.001")
    assert tick.json() == {"code": -1013, "msg": "Filter failure: PRICE_FILTER"}
    lot = order(fake_exchange, trader, **limit, quantity="0.000015", price="50000")
    assert lot.json()["msg"] == "Filter failure: LOT_SIZE"
    notional = order(fake_exchange, trader, **limit, quantity="0.00001", price="50000")
    assert notional.json()["msg"] == "Filter failure: NOTIONAL"
    percent = order(fake_exchange, trader, **limit, quantity="0.01", price="1000")
    assert percent.json()["msg"] == "Filter failure: PERCENT_PRICE_BY_SIDE"
    poor = order(fake_exchange, trader, side="SELL", type="MARKET", quantity="2")
    assert poor.json() == {"code": -2010, "msg": "Account has insufficient balance for requested action."}
    assert fake_exchange.exchange.requests[-1].status == 400


def test_cancel_replace_and_amend(fake_exchange: RunningFake, trader: Key) -> None:
    first = order(fake_exchange, trader, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.1",
                  price="50000").json()
    amended = signed(fake_exchange, trader, "PUT", "order/amend/keepPriority",
                     {"symbol": "BTCUSDT", "orderId": first["orderId"], "newQty": "0.05"}).json()
    assert amended["amendedOrder"]["qty"] == "0.05000000"
    assert fake_exchange.exchange.balance(trader.api_key, "USDT")[1] == Decimal("2500")
    history = signed(fake_exchange, trader, "GET", "order/amendments",
                     {"symbol": "BTCUSDT", "orderId": first["orderId"]}).json()
    assert history[0]["newQty"] == "0.05000000"
    replaced = signed(fake_exchange, trader, "POST", "order/cancelReplace",
                      {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                       "quantity": "0.02", "price": "51000", "cancelReplaceMode": "STOP_ON_FAILURE",
                       "cancelOrderId": first["orderId"]})
    assert replaced.status_code == 200
    assert replaced.json()["cancelResult"] == "SUCCESS" and replaced.json()["newOrderResponse"]["status"] == "NEW"
    failed = signed(fake_exchange, trader, "POST", "order/cancelReplace",
                    {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                     "quantity": "0.02", "price": "51000", "cancelReplaceMode": "STOP_ON_FAILURE",
                     "cancelOrderId": first["orderId"]})
    assert failed.status_code == 400 and err(failed) == -2022
    assert failed.json()["data"]["newOrderResult"] == "NOT_ATTEMPTED"


def test_order_lists(fake_exchange: RunningFake, trader: Key) -> None:
    oco = signed(fake_exchange, trader, "POST", "orderList/oco",
                 {"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.1", "aboveType": "LIMIT_MAKER",
                  "abovePrice": "65000", "belowType": "STOP_LOSS", "belowStopPrice": "55000"})
    assert oco.status_code == 200, oco.text
    body = oco.json()
    assert body["contingencyType"] == "OCO" and len(body["orderReports"]) == 2
    oto = signed(fake_exchange, trader, "POST", "orderList/oto",
                 {"symbol": "BTCUSDT", "workingType": "LIMIT", "workingSide": "BUY", "workingPrice": "60100",
                  "workingQuantity": "0.01", "workingTimeInForce": "GTC", "pendingType": "LIMIT_MAKER",
                  "pendingSide": "SELL", "pendingPrice": "65000", "pendingQuantity": "0.01"}).json()
    assert [r["status"] for r in oto["orderReports"]] == ["FILLED", "PENDING_NEW"]
    pending_id = oto["orders"][1]["orderId"]
    pending = signed(fake_exchange, trader, "GET", "order", {"symbol": "BTCUSDT", "orderId": pending_id}).json()
    assert pending["status"] == "NEW"
    open_lists = signed(fake_exchange, trader, "GET", "openOrderList").json()
    assert {ol["orderListId"] for ol in open_lists} == {body["orderListId"], oto["orderListId"]}
    cancel = signed(fake_exchange, trader, "DELETE", "orderList",
                    {"symbol": "BTCUSDT", "orderListId": body["orderListId"]}).json()
    assert cancel["listOrderStatus"] == "ALL_DONE"
    assert len(signed(fake_exchange, trader, "GET", "allOrderList").json()) == 2
    bad = signed(fake_exchange, trader, "POST", "orderList/oco",
                 {"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.1", "aboveType": "MARKET",
                  "belowType": "STOP_LOSS", "belowStopPrice": "55000"})
    assert err(bad) == -1158


@pytest.mark.parametrize("route", ["orderList/opo", "orderList/opoco"])
def test_opo_lists_pair_a_working_bid_with_pending_asks(fake_exchange: RunningFake, trader: Key, route: str) -> None:
    """-1222 / -1223 (errors.md): an OPO or OPOCO list's working order must be a bid and its
    pending orders asks; the same shapes with the sides the documented way round are accepted."""
    working = {"symbol": "BTCUSDT", "workingType": "LIMIT", "workingPrice": "50000", "workingQuantity": "0.01",
               "workingTimeInForce": "GTC"}
    if route.endswith("opoco"):
        pending = {"pendingAboveType": "LIMIT_MAKER", "pendingAbovePrice": "65000",
                   "pendingBelowType": "STOP_LOSS", "pendingBelowStopPrice": "45000"}
    else:
        pending = {"pendingType": "LIMIT_MAKER", "pendingPrice": "65000"}

    def place(working_side: str, pending_side: str) -> httpx.Response:
        return signed(fake_exchange, trader, "POST", route,
                      {**working, "workingSide": working_side, "pendingSide": pending_side, **pending})

    assert err(place("SELL", "SELL")) == -1222
    assert err(place("BUY", "BUY")) == -1223
    accepted = place("BUY", "SELL")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["contingencyType"] == "OTO" and len(accepted.json()["orders"]) == (3 if route.endswith("opoco") else 2)


def test_market_data_shapes(server: RunningFake) -> None:
    kl = public(server, "klines", symbol="ETHUSDT", interval="1h", limit=3).json()
    assert len(kl) == 3 and len(kl[0]) == 12
    assert public(server, "uiKlines", symbol="ETHUSDT", interval="1m", limit=2).status_code == 200
    assert set(public(server, "avgPrice", symbol="BNBUSDT").json()) == {"mins", "price", "closeTime"}
    mini = public(server, "ticker", symbols='["BTCUSDT","ETHBTC"]', type="MINI", windowSize="2h").json()
    assert [t["symbol"] for t in mini] == ["BTCUSDT", "ETHBTC"] and "priceChange" not in mini[0]
    assert err(public(server, "ticker")) == -1102
    assert public(server, "ticker/tradingDay", symbol="BTCUSDT").json()["symbol"] == "BTCUSDT"
    assert "bidPrice" in public(server, "ticker/24hr", symbol="BTCUSDT").json()
    assert public(server, "ticker/bookTicker", symbol="ETHBTC").json()["askPrice"] == "0.05002000"
    assert err(public(server, "referencePrice", symbol="ETHUSDT")) == -2043
    assert public(server, "referencePrice", symbol="BTCUSDT").json()["referencePrice"] == "60000.00"
    assert public(server, "executionRules", symbol="BTCUSDT").json()["symbolRules"][0]["symbol"] == "BTCUSDT"
    assert public(server, "historicalBlockTrades", symbol="BTCUSDT", fromId=1).json() == []
    info = public(server, "exchangeInfo", symbol="BTCUSDT").json()
    filters = {f["filterType"]: f for f in info["symbols"][0]["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert err(public(server, "depth", symbol="BTCUSDT", symbolStatus="HALT")) == -1220


def test_user_data_shapes(server: RunningFake, hmac_key: Key) -> None:
    account = signed(server, hmac_key, "GET", "account").json()
    assert set(account["commissionRates"]) == {"maker", "taker", "buyer", "seller"}
    commission = signed(server, hmac_key, "GET", "account/commission", {"symbol": "BTCUSDT"}).json()
    assert commission["symbol"] == "BTCUSDT" and "discount" in commission
    limits = signed(server, hmac_key, "GET", "rateLimit/order").json()
    assert [entry["interval"] for entry in limits] == ["SECOND", "DAY"]
    assert "symbolFilters" in signed(server, hmac_key, "GET", "myFilters", {"symbol": "BTCUSDT"}).json()
    assert signed(server, hmac_key, "GET", "myAllocations", {"symbol": "BTCUSDT"}).json() == []
    assert signed(server, hmac_key, "GET", "myPreventedMatches",
                  {"symbol": "BTCUSDT", "preventedMatchId": 1}).json() == []
    assert signed(server, hmac_key, "GET", "allOrders", {"symbol": "BTCUSDT"}).json() == []
    test_order = signed(server, hmac_key, "POST", "sor/order/test",
                        {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                         "quantity": "0.001", "price": "60000"})
    assert test_order.json() == {}
    sor = signed(server, hmac_key, "POST", "sor/order",
                 {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}).json()
    assert sor["usedSor"] is True and sor["workingFloor"] == "SOR"
    assert len(signed(server, hmac_key, "GET", "myAllocations", {"symbol": "BTCUSDT"}).json()) == 1
    json.dumps(account)
