"""Minimal ASGI adapter around :class:`~tests.fake_binance.exchange.Exchange`.

A raw ASGI callable is used (rather than a framework request object) so the
exact bytes of the query string and body reach the signature check.
"""

from __future__ import annotations

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
        request = RawRequest(scope["method"], path, scope.get("query_string", b""), body, headers)
        reply = exchange.handle(request)
        payload = json.dumps(reply.body, separators=(",", ":")).encode()
        out_headers = [(b"content-type", b"application/json;charset=UTF-8"),
                       (b"content-length", str(len(payload)).encode())]
        out_headers += [(k.encode(), v.encode()) for k, v in reply.headers.items()]
        await send({"type": "http.response.start", "status": reply.status, "headers": out_headers})
        await send({"type": "http.response.body", "body": payload})

    return app
