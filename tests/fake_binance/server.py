"""Run the fake exchange on an ephemeral localhost port in a background thread."""

from __future__ import annotations

import logging
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import uvicorn

from .app import create_app
from .exchange import Exchange

log = logging.getLogger(__name__)
STARTUP_TIMEOUT_S = 10.0


@dataclass
class RunningFake:
    """Handle on a running fake server."""

    base_url: str
    exchange: Exchange
    port: int


@contextmanager
def running_fake(exchange: Exchange | None = None, port: int = 0) -> Iterator[RunningFake]:
    """Serve ``exchange`` (a fresh one by default) on 127.0.0.1; yields a :class:`RunningFake`."""
    exchange = exchange or Exchange()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(exchange), log_level="warning", lifespan="off", access_log=False)
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
    try:
        yield RunningFake(base_url=base_url, exchange=exchange, port=bound_port)
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_S)
        sock.close()
