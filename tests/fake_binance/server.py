"""Run the fake exchange on an ephemeral localhost port in a background thread."""

from __future__ import annotations

import logging
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import uvicorn

from .app import create_app
from .exchange import Exchange
from .ws_server import FakeStreams

log = logging.getLogger(__name__)
STARTUP_TIMEOUT_S = 10.0


class ConnectionLog:
    """The distinct client ``(host, port)`` pairs the fake has served requests on.

    Each TCP connection keeps one client address for its whole life (keep-alive requests reuse
    it), so the number of distinct pairs is the number of connections a client opened to the fake
    and sent at least one request on. Benchmarks read it to check connection pooling.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: set[tuple[str, int]] = set()

    def note(self, client: Any) -> None:
        if client:
            with self._lock:
                self._seen.add((str(client[0]), int(client[1])))

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._seen)

    def snapshot(self) -> frozenset[tuple[str, int]]:
        with self._lock:
            return frozenset(self._seen)

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()


def _counting(app: Any, connections: ConnectionLog) -> Any:
    """Wrap an ASGI app so every HTTP request notes its client address in ``connections``."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            connections.note(scope.get("client"))
        await app(scope, receive, send)

    return wrapped


@dataclass
class RunningFake:
    """Handle on a running fake server."""

    base_url: str
    exchange: Exchange
    port: int
    connections: ConnectionLog = field(default_factory=ConnectionLog)
    streams: FakeStreams | None = None  # the WebSocket side (market streams, WebSocket API)

    @property
    def stream_url(self) -> str:
        assert self.streams is not None
        return self.streams.stream_url

    @property
    def ws_api_url(self) -> str:
        assert self.streams is not None
        return self.streams.ws_api_url


@contextmanager
def running_fake(exchange: Exchange | None = None, port: int = 0) -> Iterator[RunningFake]:
    """Serve ``exchange`` (a fresh one by default) on 127.0.0.1; yields a :class:`RunningFake`."""
    exchange = exchange or Exchange()
    # proto=IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted sockets (it skips proto 0); without
    # it Nagle holds the response body behind the headers for a delayed ACK (~40 ms per request).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    bound_port = sock.getsockname()[1]
    connections = ConnectionLog()
    app = _counting(create_app(exchange), connections)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="fake-binance", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("fake Binance server failed to start")
        time.sleep(0.01)
    for srv in getattr(server, "servers", []):  # prefer the port the server reports
        for s in srv.sockets:
            bound_port = s.getsockname()[1]
    base_url = f"http://127.0.0.1:{bound_port}"
    log.info("fake Binance listening on %s", base_url)
    streams = FakeStreams(exchange)
    try:
        streams.start()
        yield RunningFake(base_url=base_url, exchange=exchange, port=bound_port, connections=connections,
                          streams=streams)
    finally:
        streams.stop()
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_S)
        sock.close()
