"""Minimal ASGI adapter around :class:`~tests.fake_binance.exchange.Exchange`.

A raw ASGI callable is used (rather than a framework request object) so the
exact bytes of the query string and body reach the signature check.

Transport-level faults (``Exchange.inject``) are carried out here: ``delay`` sleeps before the
exchange handles the request, ``delay_after`` sleeps before replying, ``drop_after`` closes the TCP
connection without sending any HTTP response (the client sees a transport error, not a status).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Awaitable, Callable

from .exchange import Exchange
from .params import RawRequest

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def create_app(exchange: Exchange) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """Build the ASGI application serving ``exchange``."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":  # pragma: no cover
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        raw_path = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.decode("latin-1").split("?", 1)[0]
        client = scope.get("client") or ("127.0.0.1", 0)
        request = RawRequest(scope["method"], path, scope.get("query_string", b""), body, headers,
                             client=str(client[0]))
        exchange.request_started()
        try:
            fault = exchange.take_fault(scope["method"], path)
            if fault is not None and fault.kind == "delay" and fault.delay_s > 0:
                await asyncio.sleep(fault.delay_s)
            reply = exchange.handle(request, fault=fault)
            if reply.delay_s > 0:
                await asyncio.sleep(reply.delay_s)
            if reply.drop:
                await drop_connection(receive)
                return
            await _send_reply(send, reply)
        finally:
            exchange.request_finished()

    return app


async def _send_reply(send: Send, reply: Any) -> None:
    payload = json.dumps(reply.body, separators=(",", ":")).encode()
    out_headers = [(b"content-type", b"application/json;charset=UTF-8"),
                   (b"content-length", str(len(payload)).encode())]
    out_headers += [(k.encode(), v.encode()) for k, v in reply.headers.items()]
    await send({"type": "http.response.start", "status": reply.status, "headers": out_headers})
    await send({"type": "http.response.body", "body": payload})


def _find_transport(fn: Any, depth: int = 0) -> tuple[Any, Any] | None:
    """Locate uvicorn's per-request cycle (``receive`` is its bound method) and its transport.

    Follows closures so ASGI middleware that wraps ``receive`` does not hide it.
    """
    owner = getattr(fn, "__self__", None)
    transport = getattr(owner, "transport", None)
    if transport is not None and hasattr(transport, "abort"):
        return owner, transport
    if depth >= 5:
        return None
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # pragma: no cover - empty cell
            continue
        if callable(value):
            found = _find_transport(value, depth + 1)
            if found is not None:
                return found
    return None


async def drop_connection(receive: Receive) -> None:
    """Abort the TCP connection of the current request without writing a response."""
    found = _find_transport(receive)
    if found is None:  # pragma: no cover - would otherwise become a valid HTTP 500 from uvicorn
        raise RuntimeError("drop_after: cannot reach the server transport to drop the connection")
    cycle, transport = found
    transport.abort()
    # Let uvicorn's connection_lost run so it marks the cycle disconnected and sends nothing.
    for _ in range(50):
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0)
