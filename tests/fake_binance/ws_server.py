"""The fake's WebSocket side: market streams and the WebSocket API.

One ``websockets`` server on its own 127.0.0.1 port and thread serves

* ``/ws``, ``/ws/<names>``, ``/stream`` and ``/stream?streams=a/b``: market streams, raw or combined,
  with ``SUBSCRIBE`` / ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` / ``SET_PROPERTY`` / ``GET_PROPERTY``
  and the documented error replies (web-socket-streams.md). Stream names are in :mod:`.ws_market`;
  a raw path takes any name (ccxt opens ``/ws/0`` and subscribes afterwards; the docs are silent,
  Binance keeps such connections), a combined path's names must all be streams. Names are
  percent-decoded, so Unicode symbols work; ``timeUnit=MICROSECOND`` turns times into microseconds;
* ``/ws-api/v3``: the WebSocket API (:mod:`.ws_api`).

Events come from the exchange's own matching engine (:mod:`.ws_feed`): the exchange calls
:meth:`FakeStreams.exchange_changed` after every request. The documented limits are enforced, so a
client that breaks them is caught: on a market streams connection, more than ``max_messages_per_s``
incoming text or binary messages in a second closes it (a market streams rule: the WebSocket API's
limits are request weight and connections); more than ``max_streams`` streams is an error; both
count in ``limit_violations``. Binance counts ping and pong frames too; this fake does not (the
``websockets`` library answers them before the handler sees anything), so a test of a client's
pacing lowers ``max_messages_per_s`` by the room the client keeps for them. Every connection is
closed with a close frame (1000) once it is ``max_age_s`` old: 24 hours, as documented, unless a
test shortens it.

User data subscriptions follow web-socket-api.md: one per Binance account on a connection (a
second, with the same or another API key of that account, is -2035 SUBSCRIPTION_ACTIVE), and
-2042 MAXIMUM_SUBSCRIPTION_IDS once ``max_subscription_ids`` have been started on the connection.

Faults for tests are in :mod:`.ws_faults` (mixed in), and ``max_age_s`` (the 24-hour connection
limit, shortened).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import unquote, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from .engine import Account
from .ws_api import ApiSide, id_problem
from .ws_faults import API, MARKET, START_TIMEOUT_S, StreamFaults
from .ws_feed import Feed
from .ws_market import in_time_unit, is_periodic, market_snapshot, parse_stream

if TYPE_CHECKING:  # pragma: no cover
    from .exchange import Exchange

log = logging.getLogger(__name__)

MAX_STREAMS_PER_CONNECTION = 1024
MAX_MESSAGES_PER_S = 5
MAX_USER_SUBSCRIPTIONS = 1000  # active at once on one connection (web-socket-api.md)
MAX_SUBSCRIPTION_IDS = 65535  # started over a connection's lifetime (web-socket-api.md)
PERIODIC_CHECK_S = 0.05  # how often the periodic streams' timer looks whether a period has passed
MAX_AGE_S = 24 * 3600.0  # "a single connection is only valid for 24 hours"
DEFAULT_PERIOD_S = 1.0


@dataclass(eq=False)
class _Conn:
    ws: ServerConnection
    kind: str
    opened: float
    combined: bool = True
    streams: list[str] = field(default_factory=list)
    user_subs: dict[int, Account] = field(default_factory=dict)  # subscriptionId -> account
    api_keys: dict[int, str] = field(default_factory=dict)
    started_subs: int = 0  # user data subscriptions started over the connection's lifetime; the next id
    incoming: deque[float] = field(default_factory=deque)
    stalled_until: float = 0.0
    outbox: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    aged: bool = False  # closed at the 24-hour mark
    micro: bool = False  # timeUnit=MICROSECOND in the URL
    return_rate_limits: bool = True  # returnRateLimits in the WebSocket API's URL
    logon: tuple[str, Account] | None = None  # the WebSocket API session's API key and account
    authorized_since: int | None = None
    connected_since: int = 0
    order_counts: tuple[int, int] | None = None  # the ORDERS counts (10 s, 1 day) after this request placed orders
    ip: str = "127.0.0.1"  # the client's address: the WebSocket API's request weight is counted per IP


class FakeStreams(StreamFaults, ApiSide):
    """The WebSocket server; ``stream_url`` and ``ws_api_url`` say where it listens once started."""

    def __init__(self, exchange: "Exchange", *, period_s: float = DEFAULT_PERIOD_S) -> None:
        self.exchange = exchange
        self.period_s = period_s
        self.max_messages_per_s = MAX_MESSAGES_PER_S
        # the window the message limit counts over: Binance's second; a test may narrow it to
        # tolerate delivery jitter on a loaded machine (a burst still lands inside it)
        self.message_window_s = 1.0
        self.max_streams = MAX_STREAMS_PER_CONNECTION
        self.max_age_s: float | None = MAX_AGE_S
        self.max_user_subscriptions = MAX_USER_SUBSCRIPTIONS
        self.max_subscription_ids = MAX_SUBSCRIPTION_IDS
        self.limit_violations = 0
        self.market_methods: list[str] = []  # the method of every market-stream request, in order
        self.connections_opened = {MARKET: 0, API: 0}
        self.stream_url = ""
        self.ws_api_url = ""
        self._conns: set[_Conn] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = threading.Condition()
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._feed: Feed | None = None
        self._faults: Counter[str] = Counter()  # armed faults: how many more times each applies
        self._faults_lock = threading.Lock()

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="fake-binance-ws", daemon=True)
        self._thread.start()
        if not ready.wait(START_TIMEOUT_S) or not self.stream_url:
            raise RuntimeError("fake Binance WebSocket server failed to start")
        with self.exchange.lock:
            self._feed = Feed(self.exchange)
        self.exchange.listeners.append(self.exchange_changed)

    def stop(self) -> None:
        if self.exchange_changed in self.exchange.listeners:
            self.exchange.listeners.remove(self.exchange_changed)
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(START_TIMEOUT_S)

    def _run(self, ready: threading.Event) -> None:
        asyncio.run(self._main(ready))

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self._handler, "127.0.0.1", 0, ping_interval=20, ping_timeout=60,
                         max_size=2**20) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            self.stream_url = f"ws://127.0.0.1:{port}"
            self.ws_api_url = f"ws://127.0.0.1:{port}/ws-api/v3"
            ready.set()
            ticker = asyncio.create_task(self._periodic())
            await self._stop.wait()
            ticker.cancel()
            for conn in list(self._conns):
                conn.ws.transport.abort()

    # ------------------------------------------------------------------ observation (any thread)
    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Block until ``predicate()`` holds (re-checked on every connection or subscription change)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.05))
            return True

    def market_streams(self) -> list[str]:
        """Every stream subscribed on any open market connection."""
        return sorted(s for c in list(self._conns) if c.kind == MARKET for s in c.streams)

    def market_connections(self) -> int:
        return sum(1 for c in list(self._conns) if c.kind == MARKET)

    def api_connections(self) -> int:
        return sum(1 for c in list(self._conns) if c.kind == API)

    def user_subscribers(self) -> list[str]:
        """API keys with an active user data subscription on an open connection."""
        return sorted(k for c in list(self._conns) if c.kind == API for k in c.api_keys.values())

    # ------------------------------------------------------------------ events from the exchange
    def exchange_changed(self) -> None:
        """Called by the exchange (under its lock) after every request."""
        if self._feed is None or self._loop is None:
            return
        market, user = self._feed.collect()
        if market or user:
            self._loop.call_soon_threadsafe(self._dispatch, market, user)

    def _dispatch(self, market: list[tuple[str, dict[str, Any]]], user: list[tuple[Account, dict[str, Any]]]) -> None:
        for stream, payload in market:
            self._publish(stream, payload)
        for account, event in user:
            for conn in list(self._conns):
                for sub_id, subscribed in conn.user_subs.items():
                    if subscribed is account:
                        self._enqueue(conn, {"subscriptionId": sub_id, "event": event})

    def _publish(self, stream: str, payload: Any) -> None:
        for conn in list(self._conns):
            if conn.kind == MARKET and stream in conn.streams:
                self._enqueue(conn, {"stream": stream, "data": payload} if conn.combined else payload)

    def _enqueue(self, conn: _Conn, message: Any) -> None:
        """Queue an event for ``conn`` (dropped while it is stalled), its times in the connection's unit."""
        if conn.stalled_until > time.monotonic():
            return
        conn.outbox.put_nowait(json.dumps(in_time_unit(message, conn.micro), separators=(",", ":"),
                                          ensure_ascii=False))

    @staticmethod
    async def _send(conn: _Conn, message: Any) -> None:
        """Queue a reply (or a ``serverShutdown`` event) for ``conn``."""
        if conn.micro:
            message = in_time_unit(message, True) if "result" not in message else {
                **message, "result": _result_in_micro(message["result"])}
        conn.outbox.put_nowait(json.dumps(message, separators=(",", ":"), ensure_ascii=False))

    @staticmethod
    async def _writer(conn: _Conn) -> None:
        """Send queued messages in order, one connection at a time."""
        try:
            while True:
                await conn.ws.send(await conn.outbox.get())
        except ConnectionClosed:
            pass

    async def _periodic(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(min(self.period_s, PERIODIC_CHECK_S))  # a test's shorter period applies at once
            if time.monotonic() - last < self.period_s:
                continue
            last = time.monotonic()
            now = self.exchange.server_time_ms()
            for conn in list(self._conns):
                if self.max_age_s is not None and time.monotonic() - conn.opened > self.max_age_s and not conn.aged:
                    conn.aged = True  # a close frame, as any orderly end: clients see the 24-hour mark
                    asyncio.ensure_future(conn.ws.close(1000, "connection reached the 24-hour limit"))
            wanted = {s for c in list(self._conns) if c.kind == MARKET for s in c.streams if is_periodic(s)}
            with self.exchange.lock:
                payloads = {s: market_snapshot(self.exchange, s, now) for s in wanted}
            for stream, payload in payloads.items():
                if payload is not None:
                    self._publish(stream, payload)

    # ------------------------------------------------------------------ connections
    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        parts = urlsplit(ws.request.path)
        path = unquote(parts.path).rstrip("/")  # stream names may be Unicode, percent-encoded as UTF-8
        query = _query(parts.query)
        kind = API if path == "/ws-api/v3" else MARKET
        if kind == MARKET and not (path in ("/ws", "/stream") or path.startswith("/ws/")):
            await ws.close(1008, "unknown path")
            return
        conn = _Conn(ws, kind, time.monotonic(), combined=path.startswith("/stream"),
                     micro=any(v.upper() == "MICROSECOND" for v in query.get("timeUnit", [])),
                     return_rate_limits=query.get("returnRateLimits", ["true"])[-1].lower() != "false",
                     connected_since=self.exchange.server_time_ms(), ip=str(ws.remote_address[0]))
        if kind == API:
            with self.exchange.lock:  # "connecting to WebSocket API costs 2 weight"
                self.exchange._gate(conn.ip, 2, self.exchange.server_time_ms())
        if kind == MARKET:
            # /ws/<name> takes any name (ccxt opens /ws/0 and subscribes afterwards): the names that
            # are streams are subscribed, others ignored; a combined stream's names must all be streams
            raw = [s for s in path[len("/ws/"):].split("/") if parse_stream(s)] if path.startswith("/ws/") else []
            named = [s for v in query.get("streams", []) for s in v.split("/") if s]
            if any(parse_stream(s) is None for s in named) or len(raw + named) > self.max_streams:
                await ws.close(1008, "invalid stream name")
                return
            conn.streams = list(dict.fromkeys(raw + named))
        if self._fires(f"close_new_{kind}"):
            self.connections_opened[kind] += 1
            self._notify()
            await ws.close()
            return
        self._conns.add(conn)
        self.connections_opened[kind] += 1
        self._notify()
        writer = asyncio.create_task(self._writer(conn))
        try:
            closing = False
            async for raw in ws:
                if closing:
                    continue  # keep reading, so the client's close frame is not stuck behind its flood
                if kind == MARKET and not self._count_message(conn):  # a market streams rule only
                    self.limit_violations += 1
                    closing = True
                    asyncio.ensure_future(ws.close(1008, "Too many requests"))
                    continue
                reply = self._market_request(conn, raw) if kind == MARKET else self._api_request(conn, raw)
                if reply is not None:
                    await self._send(conn, reply)
                self._notify()
        except ConnectionClosed:
            pass
        finally:
            writer.cancel()
            self._conns.discard(conn)
            self._notify()

    def _count_message(self, conn: _Conn) -> bool:
        now = time.monotonic()
        conn.incoming.append(now)
        while conn.incoming and conn.incoming[0] <= now - self.message_window_s:
            conn.incoming.popleft()
        return len(conn.incoming) <= self.max_messages_per_s

    def _market_request(self, conn: _Conn, raw: str | bytes) -> dict[str, Any]:
        try:
            request = json.loads(raw)
        except ValueError:
            return {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}
        if not isinstance(request, dict) or "method" not in request:
            return {"code": 2, "msg": "Invalid request: missing field `method` at line 1 column 1"}
        rid, method, params = request.get("id"), request["method"], request.get("params") or []
        self.market_methods.append(str(method))
        if id_problem(rid):  # docs: alphanumeric up to 36; the official SDK sends UUIDs (with hyphens)
            return {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}
        if method == "SUBSCRIBE" and self._fires("reject_subscribe"):
            return {"code": 2, "msg": "Invalid request: refused by an injected fault", "id": rid}
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            return self._subscription_request(conn, rid, method, params)
        if method == "LIST_SUBSCRIPTIONS":
            if params:
                return {"code": 2, "msg": "Invalid request: too many parameters", "id": rid}
            return {"result": list(conn.streams), "id": rid}
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            return self._property_request(conn, rid, method, params)
        return {"code": 2, "msg": f"Invalid request: unknown variant {method}, expected one of `SUBSCRIBE`, "
                                  "`UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`", "id": rid}

    def _subscription_request(self, conn: _Conn, rid: Any, method: str, params: Any) -> dict[str, Any]:
        if not isinstance(params, list) or any(not isinstance(p, str) or parse_stream(p) is None for p in params):
            return {"code": 2, "msg": "Invalid request: invalid stream name", "id": rid}
        if method == "SUBSCRIBE":
            merged = list(dict.fromkeys(conn.streams + params))
            if len(merged) > self.max_streams:
                self.limit_violations += 1
                return {"code": 2, "msg": "Invalid request: too many streams", "id": rid}
            conn.streams = merged
        else:
            conn.streams = [s for s in conn.streams if s not in params]
        return {"result": None, "id": rid}

    @staticmethod
    def _property_request(conn: _Conn, rid: Any, method: str, params: Any) -> dict[str, Any]:
        if not isinstance(params, list) or not params or not isinstance(params[0], str):
            return {"code": 2, "msg": "Invalid request: property name must be a string", "id": rid}
        if params[0] != "combined":
            return {"code": 0, "msg": "Unknown property", "id": rid}
        if len(params) > (1 if method == "GET_PROPERTY" else 2):
            return {"code": 2, "msg": "Invalid request: too many parameters", "id": rid}
        if method == "GET_PROPERTY":
            return {"result": conn.combined, "id": rid}
        if len(params) != 2 or not isinstance(params[1], bool):
            return {"code": 1, "msg": "Invalid value type: expected Boolean"}
        conn.combined = params[1]
        return {"result": None, "id": rid}

def _query(text: str) -> dict[str, list[str]]:
    """The URL's query parameters, percent-decoded; a ``+`` stays a plus (``@kline_1d@+08:00``)."""
    out: dict[str, list[str]] = {}
    for part in filter(None, text.split("&")):
        name, _, value = part.partition("=")
        out.setdefault(unquote(name), []).append(unquote(value))
    return out


_RESULT_TIMES = frozenset({"serverTime", "transactTime", "time", "updateTime", "workingTime", "authorizedSince",
                           "connectedSince", "openTime", "closeTime", "transactionTime", "T"})


def _result_in_micro(result: Any) -> Any:
    """A WebSocket API result with its timestamps in microseconds (``timeUnit=MICROSECOND``)."""
    if isinstance(result, list):
        return [_result_in_micro(item) for item in result]
    if not isinstance(result, dict):
        return result
    return {k: v * 1000 if k in _RESULT_TIMES and isinstance(v, int) and not isinstance(v, bool) and v > 0
            else _result_in_micro(v) for k, v in result.items()}
