"""Faults the fake's WebSocket side can be told to make, for tests (a mixin of :class:`~.ws_server.FakeStreams`).

:meth:`drop` (abort TCP), :meth:`server_shutdown` (the ``serverShutdown`` event, then close),
:meth:`stall` (stop reading and sending for a while, so pings go unanswered), :meth:`odd_pings`
(unsolicited pongs and pings with payloads), :meth:`flood` (a burst of trades),
:meth:`end_user_subscriptions` (Binance ends an account's subscription: ``eventStreamTerminated``),
:meth:`forge_user_event`, :meth:`reject_subscribes` (refuse the next ``SUBSCRIBE`` requests) and
:meth:`close_new_connections` (accept the next connections and close them at once). Each may be
called from any thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any, Callable

from websockets.exceptions import ConnectionClosed

if TYPE_CHECKING:  # pragma: no cover
    from .ws_server import _Conn

MARKET, API = "market", "api"
SHUTDOWN_GRACE_S = 0.5
START_TIMEOUT_S = 10.0


class StreamFaults:
    """The fault knobs; needs the connections, loop and queues of :class:`~.ws_server.FakeStreams`."""

    exchange: Any
    _loop: asyncio.AbstractEventLoop | None
    _conns: set["_Conn"]
    _faults: Counter[str]
    _faults_lock: threading.Lock
    _enqueue: Callable[..., None]
    _publish: Callable[..., None]
    _notify: Callable[[], None]
    _end_user_subscription: Callable[..., None]
    _send: Callable[..., Any]

    def _call(self, fn: Callable[[], Any]) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(fn)

    def _call_and_wait(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the server's loop and return once it has run, so the fault is in effect."""
        done = threading.Event()

        def go() -> None:
            try:
                fn()
            finally:
                done.set()

        self._call(go)
        if not done.wait(START_TIMEOUT_S):
            raise RuntimeError("the fake's WebSocket loop did not run the fault in time")

    def _targets(self, kind: str | None) -> list["_Conn"]:
        return [c for c in list(self._conns) if kind is None or c.kind == kind]

    def drop(self, kind: str | None = None) -> None:
        """Abort the TCP connections (no close frame)."""
        self._call(lambda: [c.ws.transport.abort() for c in self._targets(kind)])

    def server_shutdown(self, kind: str | None = None, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        """Send ``serverShutdown`` and close the connections ``grace_s`` later."""

        def go() -> None:
            for conn in self._targets(kind):
                asyncio.ensure_future(self._shutdown(conn, grace_s))

        self._call(go)

    async def _shutdown(self, conn: "_Conn", grace_s: float) -> None:
        event = {"e": "serverShutdown", "E": self.exchange.server_time_ms()}
        if conn.kind == API:
            payload: dict[str, Any] = {"event": event}
        else:
            payload = {"stream": "!serverShutdown", "data": event} if conn.combined else event
        await self._send(conn, payload)
        await asyncio.sleep(grace_s)
        await conn.ws.close(1001, "server shutdown")

    def stall(self, seconds: float, kind: str | None = None) -> None:
        """Stop reading (so pings go unanswered) and sending on the connections for ``seconds``;
        returns once the stall is in effect."""

        def go() -> None:
            until = time.monotonic() + seconds
            for conn in self._targets(kind):
                conn.stalled_until = until
                conn.ws.transport.pause_reading()
                self._loop.call_later(seconds, self._resume, conn)  # type: ignore[union-attr]

        self._call_and_wait(go)

    @staticmethod
    def _resume(conn: "_Conn") -> None:
        conn.stalled_until = 0.0
        try:
            conn.ws.transport.resume_reading()
        except RuntimeError:  # pragma: no cover - already closed
            pass

    def odd_pings(self, kind: str | None = None) -> None:
        """An unsolicited pong and a ping with a payload, between events."""

        async def go(conn: "_Conn") -> None:
            try:
                await conn.ws.pong(b"unsolicited")
                await conn.ws.ping(b"\x00odd-payload")
            except ConnectionClosed:
                pass

        self._call(lambda: [asyncio.ensure_future(go(c)) for c in self._targets(kind)])

    def reject_subscribes(self, count: int = 1) -> None:
        """Refuse the next ``count`` market ``SUBSCRIBE`` requests with a code 2 error reply."""
        self._arm("reject_subscribe", count)

    def close_new_connections(self, count: int = 1, kind: str = MARKET) -> None:
        """Complete the handshake of the next ``count`` connections of ``kind``, then close each at once."""
        self._arm(f"close_new_{kind}", count)

    def _arm(self, fault: str, count: int) -> None:
        with self._faults_lock:
            self._faults[fault] = count

    def _fires(self, fault: str) -> bool:
        """True when ``fault`` is armed; uses up one of its times."""
        with self._faults_lock:
            if self._faults[fault] <= 0:
                return False
            self._faults[fault] -= 1
            return True

    def flood(self, stream: str, count: int) -> None:
        """Send ``count`` synthetic trade events on ``stream`` to every connection subscribed to it."""
        symbol = stream.split("@", 1)[0].upper()

        def go() -> None:
            now = self.exchange.server_time_ms()
            for i in range(count):
                self._publish(stream, {"e": "trade", "E": now, "s": symbol, "t": 10_000_000 + i, "p": "1.00000000",
                                       "q": "1.00000000", "T": now, "m": False, "M": True})

        self._call(go)

    def end_user_subscriptions(self, api_key: str) -> None:
        """Fault: end every user data subscription made with ``api_key``, as Binance does when it stops
        one (``eventStreamTerminated``, then no more events); returns once they have ended."""

        def go() -> None:
            for conn in self._targets(API):
                for sub_id in [i for i, key in conn.api_keys.items() if key == api_key]:
                    self._end_user_subscription(conn, sub_id)
            self._notify()

        self._call_and_wait(go)

    def forge_user_event(self, api_key: str, event: dict[str, Any]) -> None:
        """Fault: send ``event`` on every user data subscription of ``api_key`` as if it were real
        (a stream that is wrong or forged); returns once it is queued."""

        def go() -> None:
            for conn in self._targets(API):
                for sub_id in [i for i, key in conn.api_keys.items() if key == api_key]:
                    self._enqueue(conn, {"subscriptionId": sub_id, "event": event})

        self._call_and_wait(go)
