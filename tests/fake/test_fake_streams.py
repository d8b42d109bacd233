"""The fake exchange's WebSocket side, driven by a bare ``websockets`` client.

Market streams carry the trades of the fake's own matching engine; the WebSocket API's
``userDataStream.subscribe.signature`` checks HMAC, RSA and Ed25519 signatures and then pushes the
account's ``executionReport`` / ``outboundAccountPosition`` events; the documented limits and
error codes (-2035, -2042) hold, and a subscription can be ended from the fake's side.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.fake_binance import RunningFake

RECV_TIMEOUT_S = 5.0


def _recv(ws: ClientConnection, predicate: Any = lambda m: True) -> Any:
    deadline = time.monotonic() + RECV_TIMEOUT_S
    while True:
        message = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if predicate(message):
            return message


def _market_buy(fake: RunningFake, api_key: str, secret: str, qty: str = "0.001") -> dict[str, Any]:
    query = f"symbol=BTCUSDT&side=BUY&type=MARKET&quantity={qty}&timestamp={int(time.time() * 1000)}"
    signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    reply = httpx.post(f"{fake.base_url}/api/v3/order", content=f"{query}&signature={signature}",
                       headers={"X-MBX-APIKEY": api_key, "Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status_code == 200, reply.text
    return reply.json()


def _sign(keys: Any, kind: str, payload: bytes) -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization

    if kind == "hmac":
        return keys.hmac_api_key, hmac.new(keys.hmac_secret.encode(), payload, hashlib.sha256).hexdigest()
    pem = keys.rsa_pem if kind == "rsa" else keys.ed_pem
    private = serialization.load_pem_private_key(pem, password=None)
    if kind == "rsa":
        return keys.rsa_api_key, base64.b64encode(private.sign(payload, padding.PKCS1v15(), hashes.SHA256())).decode()
    return keys.ed_api_key, base64.b64encode(private.sign(payload)).decode()


def _subscribe_user(ws: ClientConnection, keys: Any, kind: str, *, tamper: bool = False) -> dict[str, Any]:
    api_key = {"hmac": keys.hmac_api_key, "rsa": keys.rsa_api_key, "ed": keys.ed_api_key}[kind]
    return _subscribe_signed(ws, api_key, lambda payload: _sign(keys, kind, payload + (b"x" if tamper else b""))[1])


def _subscribe_signed(ws: ClientConnection, api_key: str, sign: Any) -> dict[str, Any]:
    timestamp = int(time.time() * 1000)
    signature = sign(f"apiKey={api_key}&timestamp={timestamp}".encode())
    ws.send(json.dumps({"id": "sub-1", "method": "userDataStream.subscribe.signature",
                        "params": {"apiKey": api_key, "timestamp": timestamp, "signature": signature}}))
    return _recv(ws, lambda m: m.get("id") == "sub-1")


def _unsubscribe_user(ws: ClientConnection, subscription_id: int) -> None:
    ws.send(json.dumps({"id": "u", "method": "userDataStream.unsubscribe", "params": {"subscriptionId": subscription_id}}))
    assert _recv(ws, lambda m: m.get("id") == "u")["status"] == 200


def test_combined_stream_carries_trades_of_the_matching_engine(world) -> None:
    with connect(f"{_fake(world).stream_url}/stream?streams=btcusdt@trade") as ws:
        ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@bookTicker"], "id": 1}))
        assert _recv(ws, lambda m: m.get("id") == 1) == {"result": None, "id": 1}
        ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
        assert _recv(ws, lambda m: m.get("id") == 2)["result"] == ["btcusdt@trade", "btcusdt@bookTicker"]
        order = _market_buy(_fake(world), world.keys.hmac_api_key, world.keys.hmac_secret)
        trade = _recv(ws, lambda m: m.get("stream") == "btcusdt@trade")["data"]
        assert trade["e"] == "trade" and trade["s"] == "BTCUSDT"
        assert trade["p"] == order["fills"][0]["price"] and trade["t"] == order["fills"][0]["tradeId"]
        book = _recv(ws, lambda m: m.get("stream") == "btcusdt@bookTicker")["data"]
        assert book["s"] == "BTCUSDT" and float(book["a"]) >= float(trade["p"])


def _fake(world: Any) -> RunningFake:
    return world.fake


@pytest.mark.parametrize("kind", ["hmac", "rsa", "ed"])
def test_user_data_subscription_checks_signatures_and_pushes_order_events(world, kind: str) -> None:
    with connect(_fake(world).ws_api_url) as ws:
        bad = _subscribe_user(ws, world.keys, kind, tamper=True)
        assert bad["status"] == 400 and bad["error"]["code"] == -1022
        good = _subscribe_user(ws, world.keys, kind)
        assert good["status"] == 200 and good["result"] == {"subscriptionId": 0}
        if kind == "hmac":
            _market_buy(_fake(world), world.keys.hmac_api_key, world.keys.hmac_secret)
            report = _recv(ws, lambda m: m.get("event", {}).get("e") == "executionReport" and m["event"]["X"] == "FILLED")
            assert report["subscriptionId"] == 0 and report["event"]["x"] == "TRADE"
            position = _recv(ws, lambda m: m.get("event", {}).get("e") == "outboundAccountPosition")
            assert {b["a"] for b in position["event"]["B"]} >= {"BTC", "USDT"}
        ws.send(json.dumps({"id": "u", "method": "userDataStream.unsubscribe", "params": {"subscriptionId": 0}}))
        assert _recv(ws, lambda m: m.get("event", {}).get("e") == "eventStreamTerminated")["subscriptionId"] == 0


def _error_code(reply: dict[str, Any]) -> int:
    assert reply["status"] == 400, reply
    return reply["error"]["code"]


def test_a_binance_account_has_one_user_data_subscription_per_connection(world) -> None:
    """-2035 SUBSCRIPTION_ACTIVE for a second subscription of one account, whichever of its keys signs."""
    fake, keys = _fake(world), world.keys
    twin_key, twin_secret = secrets.token_hex(32), secrets.token_hex(32)  # a second API key of the same Binance account
    fake.exchange.add_account(twin_key, hmac_secret=twin_secret, account=fake.exchange.account_for(keys.hmac_api_key))

    def twin(payload: bytes) -> str:
        return hmac.new(twin_secret.encode(), payload, hashlib.sha256).hexdigest()

    with connect(fake.ws_api_url) as ws:
        assert _subscribe_user(ws, keys, "hmac")["result"] == {"subscriptionId": 0}
        code = _error_code(_subscribe_user(ws, keys, "hmac"))
        assert code == -2035
        code = _error_code(_subscribe_signed(ws, twin_key, twin))
        assert code == -2035
        assert _subscribe_user(ws, keys, "rsa")["result"] == {"subscriptionId": 1}  # another account is fine
        assert fake.streams.user_subscribers() == sorted([keys.hmac_api_key, keys.rsa_api_key])
    with connect(fake.ws_api_url) as ws:  # one per connection: another connection may subscribe it too
        assert _subscribe_signed(ws, twin_key, twin)["result"] == {"subscriptionId": 0}


def test_subscriptions_beyond_a_connections_limits_are_refused_with_2042(world) -> None:
    """-2042 MAXIMUM_SUBSCRIPTION_IDS: too many active at once, or too many started on the connection."""
    fake, keys = _fake(world), world.keys
    fake.streams.max_user_subscriptions = 1
    with connect(fake.ws_api_url) as ws:
        assert _subscribe_user(ws, keys, "hmac")["result"] == {"subscriptionId": 0}
        code = _error_code(_subscribe_user(ws, keys, "rsa"))
        assert code == -2042  # one is active: the limit here
        _unsubscribe_user(ws, 0)
        assert _subscribe_user(ws, keys, "rsa")["result"] == {"subscriptionId": 1}
    fake.streams.max_user_subscriptions, fake.streams.max_subscription_ids = 1000, 2
    with connect(fake.ws_api_url) as ws:
        for subscription_id in (0, 1):
            assert _subscribe_user(ws, keys, "hmac")["result"] == {"subscriptionId": subscription_id}
            _unsubscribe_user(ws, subscription_id)
        code = _error_code(_subscribe_user(ws, keys, "hmac"))
        assert code == -2042  # none active, but both ids are used


def test_ending_a_user_data_subscription_sends_event_stream_terminated(world) -> None:
    fake, keys = _fake(world), world.keys
    with connect(fake.ws_api_url) as ws:
        assert _subscribe_user(ws, keys, "hmac")["result"] == {"subscriptionId": 0}
        assert _subscribe_user(ws, keys, "rsa")["result"] == {"subscriptionId": 1}
        fake.streams.end_user_subscriptions(keys.hmac_api_key)
        assert fake.streams.user_subscribers() == [keys.rsa_api_key]  # in effect when the call returns
        ended = _recv(ws, lambda m: m.get("event", {}).get("e") == "eventStreamTerminated")
        assert ended["subscriptionId"] == 0
        ws.send(json.dumps({"id": "list", "method": "session.subscriptions"}))
        assert _recv(ws, lambda m: m.get("id") == "list")["result"] == [{"subscriptionId": 1}]


def test_more_than_five_messages_a_second_closes_the_connection(world) -> None:
    streams = _fake(world).streams
    with connect(f"{_fake(world).stream_url}/ws") as ws:
        with pytest.raises(ConnectionClosed):
            for i in range(200):  # far beyond 5 a second, however slowly this machine runs
                ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
            while True:
                ws.recv(timeout=RECV_TIMEOUT_S * 6)  # generous: a loaded machine processes the burst slowly
    assert streams.limit_violations == 1


def test_server_shutdown_event_then_close(world) -> None:
    fake = _fake(world)
    with connect(f"{fake.stream_url}/stream?streams=btcusdt@trade") as ws:
        fake.streams.wait_until(lambda: fake.streams.market_connections() == 1)
        fake.streams.server_shutdown(grace_s=0.05)
        assert _recv(ws)["stream"] == "!serverShutdown"
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=RECV_TIMEOUT_S)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK's own use of aiohttp
@pytest.mark.parametrize("kind", ["hmac", "rsa", "ed"])
def test_official_sdk_subscribes_to_the_user_data_stream(world, kind: str) -> None:
    """Conformance: Binance's own SDK signs userDataStream.subscribe.signature and the fake accepts it."""
    import asyncio

    from binance_common.configuration import ConfigurationWebSocketAPI
    from binance_sdk_spot.spot import Spot

    keys, fake = world.keys, _fake(world)
    if kind == "hmac":
        cfg = ConfigurationWebSocketAPI(api_key=keys.hmac_api_key, api_secret=keys.hmac_secret,
                                        stream_url=fake.ws_api_url, reconnect_attempts=1)
        api_key = keys.hmac_api_key
    else:
        api_key = keys.rsa_api_key if kind == "rsa" else keys.ed_api_key
        pem = (keys.rsa_pem if kind == "rsa" else keys.ed_pem).decode()
        cfg = ConfigurationWebSocketAPI(api_key=api_key, private_key=pem, stream_url=fake.ws_api_url, reconnect_attempts=1)

    async def subscribe() -> Any:
        ws = Spot(config_ws_api=cfg).websocket_api
        await ws.create_connection()
        try:
            reply = await ws.user_data_stream_subscribe_signature()
            assert fake.streams.user_subscribers() == [api_key]
            return reply.response.data()
        finally:
            await ws.close_connection()

    data = asyncio.run(asyncio.wait_for(subscribe(), RECV_TIMEOUT_S * 2))
    assert data.status == 200 and data.result.subscription_id == 0
