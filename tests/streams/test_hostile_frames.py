"""Frames a hostile or broken server sends, against a scripted WebSocket server on loopback.

* a frame we cannot use (an ``id`` that is not a number, JSON nested too deep to parse, a frame
  that is not JSON) is logged without its text and skipped: the connection goes on serving and
  later frames still arrive (finding 8 of issue 22);
* a frame larger than the connection's cap never reaches a handler (finding 9);
* a WebSocket API error or event that echoes the request's signature or key never carries it
  further: not in the error, not in a subscription's buffer, not in the log (finding 13).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.errors import ExchangeError
from binance_spot_mcp.exchange.signing import HmacSigner
from binance_spot_mcp.streams.buffers import Subscription
from binance_spot_mcp.streams.connection import MAX_MESSAGE_BYTES, ReconnectingSocket
from binance_spot_mcp.streams.user import UserStreams
from tests.e2e_support import random_token

pytestmark = pytest.mark.anyio
BOUND_S = 10.0
DEEP = "[" * 200_000 + "]" * 200_000  # json.loads raises RecursionError, not ValueError
HOSTILE = [json.dumps({"id": [1]}), json.dumps({"id": {"a": 1}}), DEEP, "not json", json.dumps({"id": 1.5e400}),
           json.dumps({"stream": ["x"], "data": 1})]

Handler = Callable[[Any], Awaitable[None]]


@asynccontextmanager
async def scripted(handler: Handler) -> AsyncIterator[str]:
    """A WebSocket server on an ephemeral loopback port running ``handler`` per connection."""
    from websockets.asyncio.server import serve

    async with serve(handler, "127.0.0.1", 0, max_size=None, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


async def _until(predicate: Callable[[], bool]) -> None:
    with anyio.fail_after(BOUND_S):
        while not predicate():
            await anyio.sleep(0.01)


@pytest.mark.parametrize("frame", HOSTILE, ids=["id-list", "id-object", "deep-array", "not-json", "id-inf",
                                                 "stream-list"])
async def test_a_frame_we_cannot_use_is_skipped_and_the_connection_goes_on(frame: str, caplog: Any) -> None:
    connections = []

    async def handler(ws: Any) -> None:
        connections.append(ws)
        await ws.send(frame)
        await ws.send(json.dumps({"e": "trade", "n": 1}))
        await ws.wait_closed()

    received: list[Any] = []
    async with scripted(handler) as url:
        socket = ReconnectingSocket(url, on_message=received.append)
        socket.start()
        try:
            await _until(lambda: {"e": "trade", "n": 1} in received)
            assert socket.running and socket.connects == 1 and socket.drops == 0 and len(connections) == 1
            # the loop still serves: a request on the same connection gets its reply
            assert socket.ready.is_set()
        finally:
            await socket.aclose()
    assert frame[:40] not in caplog.text or frame == "not json"


async def test_after_a_hostile_reply_to_a_request_the_socket_still_answers_requests() -> None:
    async def handler(ws: Any) -> None:
        async for raw in ws:
            request = json.loads(raw)
            await ws.send(json.dumps({"id": [request["id"]]}))  # hostile: the id as a list
            await ws.send(DEEP)
            await ws.send(json.dumps({"id": request["id"], "result": None}))

    async with scripted(handler) as url:
        socket = ReconnectingSocket(url, on_message=lambda _: None)
        socket.start()
        try:
            with anyio.fail_after(BOUND_S):
                assert await socket.wait_ready(BOUND_S)
                for _ in range(2):
                    assert (await socket.request({"method": "LIST_SUBSCRIPTIONS"}))["result"] is None
            assert socket.connects == 1 and socket.running
        finally:
            await socket.aclose()


async def test_a_frame_over_the_connection_cap_is_never_handed_on() -> None:
    assert MAX_MESSAGE_BYTES <= 2**20  # Binance's own frames on the streams we offer are a few kB

    sent = anyio.Event()

    async def handler(ws: Any) -> None:
        try:
            await ws.send(json.dumps({"e": "trade", "pad": "x" * (MAX_MESSAGE_BYTES + 10)}))
            await ws.send(json.dumps({"e": "trade", "n": 2}))
        finally:
            sent.set()
        await ws.wait_closed()

    received: list[Any] = []
    async with scripted(handler) as url:
        socket = ReconnectingSocket(url, on_message=received.append, reconnect_delays_s=(5.0,))
        socket.start()
        try:
            with anyio.fail_after(BOUND_S):
                await sent.wait()
                await _until(lambda: socket.drops >= 1 or bool(received))
            assert not any("pad" in m for m in received if isinstance(m, dict))
        finally:
            await socket.aclose()


# -- the WebSocket API: signatures echoed back -----------------------------------------------------

def _account(url: str) -> Account:
    return Account(name="main", environment="testnet", api_key=random_token(64), signer=HmacSigner(random_token(64)),
                   base_url="http://127.0.0.1:1")


def _echoing_api(*, refuse: bool, go: anyio.Event | None = None) -> tuple[Handler, list[dict[str, Any]]]:
    """A WebSocket API that echoes the subscribe request's signature and key: in its error when
    ``refuse``, else in an event after accepting, once ``go`` is set."""
    seen: list[dict[str, Any]] = []

    async def handler(ws: Any) -> None:
        async for raw in ws:
            request = json.loads(raw)
            params = request.get("params") or {}
            seen.append(params)
            signature, key = params.get("signature", ""), params.get("apiKey", "")
            echo = f"Signature {signature} for {key} is not valid; request {json.dumps(params)}"
            if refuse:
                await ws.send(json.dumps({"id": request["id"], "status": 400,
                                          "error": {"code": -1022, "msg": echo}}))
                continue
            await ws.send(json.dumps({"id": request["id"], "status": 200, "result": {"subscriptionId": 0}}))
            assert go is not None
            await go.wait()  # once the client knows the subscription: an event before it is not its own
            await ws.send(json.dumps({"subscriptionId": 0, "event": {
                "e": "balanceUpdate", "a": "BTC", "d": echo, "sig": signature, "nested": [{"s": signature}]}}))

    return handler, seen


def _leaks(text: str, params: dict[str, Any]) -> list[str]:
    from urllib.parse import quote

    signature = str(params["signature"])
    forms = {signature, quote(signature, safe=""), str(params["apiKey"])}
    return [form for form in forms if form in text]


async def test_a_signature_echoed_in_a_websocket_api_error_is_not_passed_on(caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    handler, seen = _echoing_api(refuse=True)
    async with scripted(handler) as url:
        user = UserStreams(f"{url}/ws-api/v3", now_ms=lambda _: 1_700_000_000_000, resync_clock=_noop)
        account = _account(url)
        try:
            with pytest.raises(ExchangeError) as raised:
                await user.listen(account, Subscription("s", ("balanceUpdate",), "testnet", "main"), timeout_s=BOUND_S)
        finally:
            await user.aclose()
    assert seen, "the scripted API never got the subscribe request"
    error = raised.value
    text = json.dumps(error.to_dict()) + str(error) + caplog.text
    assert error.code == -1022 and "is not valid" in error.msg
    assert _leaks(text, seen[0]) == []


async def test_a_signature_echoed_in_a_websocket_api_event_is_not_buffered() -> None:
    go = anyio.Event()
    handler, seen = _echoing_api(refuse=False, go=go)
    async with scripted(handler) as url:
        user = UserStreams(f"{url}/ws-api/v3", now_ms=lambda _: 1_700_000_000_000, resync_clock=_noop)
        account = _account(url)
        subscription = Subscription("s", ("balanceUpdate",), "testnet", "main")
        try:
            await user.listen(account, subscription, timeout_s=BOUND_S)
            go.set()
            await _until(lambda: subscription.received >= 1)
        finally:
            await user.aclose()
    read = await subscription.read(0, wait_s=0, limit=10)
    event = read["events"][0]["data"]
    assert event["e"] == "balanceUpdate" and event["a"] == "BTC"
    assert _leaks(json.dumps(read), seen[0]) == []


async def _noop(_: Any) -> None:
    return None
