"""Helpers for the tests of the fake's WebSocket side: throwaway accounts, REST orders from another
account (the trades client libraries see), a bounded ``recv`` and WebSocket API signing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlencode

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from websockets.sync.client import ClientConnection

from tests.fake_binance import RunningFake

RECV_TIMEOUT_S = 5.0


@dataclass
class Trader:
    """A throwaway account on the fake: an HMAC key, or an Ed25519 one (``private`` set)."""

    api_key: str
    secret: str = ""
    private: ed25519.Ed25519PrivateKey | None = None

    def sign(self, payload: str) -> str:
        if self.private is not None:
            return base64.b64encode(self.private.sign(payload.encode())).decode()
        return hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()

    @property
    def private_pem(self) -> str:
        assert self.private is not None
        return self.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()).decode()


def new_trader(fake: RunningFake, *, ed: bool = False, balances: dict[str, str] | None = None) -> Trader:
    """Register a fresh account (its own Binance account) with a new key."""
    api_key = secrets.token_hex(32)
    if ed:
        private = ed25519.Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
        fake.exchange.add_account(api_key, public_key_pem=public, balances=balances)
        return Trader(api_key, private=private)
    secret = secrets.token_hex(32)
    fake.exchange.add_account(api_key, hmac_secret=secret, balances=balances)
    return Trader(api_key, secret=secret)


def rest(fake: RunningFake, trader: Trader, method: str, path: str, **params: Any) -> Any:
    """A signed REST request to the fake; returns the JSON body of a 200 reply (else fails)."""
    query = urlencode({**params, "timestamp": fake.exchange.server_time_ms()})
    query += f"&signature={trader.sign(query)}"
    reply = httpx.request(method, f"{fake.base_url}{path}?{query}", headers={"X-MBX-APIKEY": trader.api_key},
                          timeout=RECV_TIMEOUT_S)
    assert reply.status_code == 200, reply.text
    return reply.json()


def order(fake: RunningFake, trader: Trader, side: str, qty: str, price: str | None = None,
          symbol: str = "BTCUSDT") -> dict[str, Any]:
    """A LIMIT GTC order at ``price``, or a MARKET order without one."""
    extra = {"type": "LIMIT", "timeInForce": "GTC", "price": price} if price else {"type": "MARKET"}
    return rest(fake, trader, "POST", "/api/v3/order", symbol=symbol, side=side, quantity=qty, **extra)


def depth(fake: RunningFake, symbol: str = "BTCUSDT", limit: int = 100) -> dict[str, Any]:
    return httpx.get(f"{fake.base_url}/api/v3/depth", params={"symbol": symbol, "limit": limit},
                     timeout=RECV_TIMEOUT_S).json()


def recv(ws: ClientConnection, predicate: Callable[[Any], bool] = lambda m: True,
         timeout: float = RECV_TIMEOUT_S) -> Any:
    """The next JSON message matching ``predicate``, within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if predicate(message):
            return message


def signed_params(fake: RunningFake, trader: Trader, **params: Any) -> dict[str, Any]:
    """WebSocket API parameters with ``apiKey``, ``timestamp`` and the signature over them, sorted."""
    params = {**params, "apiKey": trader.api_key, "timestamp": fake.exchange.server_time_ms()}
    payload = "&".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in sorted(params.items()))
    return {**params, "signature": trader.sign(payload)}


def call(ws: ClientConnection, method: str, params: dict[str, Any] | None = None, rid: Any = "r") -> Any:
    """Send one WebSocket API request and return its reply."""
    message: dict[str, Any] = {"id": rid, "method": method}
    if params is not None:
        message["params"] = params
    ws.send(json.dumps(message))
    return recv(ws, lambda m: "status" in m and (m.get("id") == rid or m.get("id") is None))
