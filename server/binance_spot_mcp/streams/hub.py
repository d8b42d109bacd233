"""The live-data state of a running server: subscriptions, their connections, idle expiry.

``StreamHub`` owns one ``MarketStreams`` per stream URL and one ``UserStreams`` per WebSocket API
URL, opened on first use. Subscriptions get short ids (``s1``, ``s2``, ...). A subscription that
nobody has read for ``Settings.stream_idle_s`` is closed, and a connection with nothing left on it
is closed too; the sweep runs before every stream tool call and in a background task.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any

from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.config import Settings
from binance_spot_mcp.errors import PolicyError, ToolInputError
from binance_spot_mcp.exchange.client import BinanceClient
from binance_spot_mcp.streams.buffers import Subscription
from binance_spot_mcp.streams.connection import ReconnectingSocket
from binance_spot_mcp.streams.market import MarketStreams
from binance_spot_mcp.streams.user import OrderWatch, UserStreams

logger = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS = 200
MAX_STREAMS_PER_SUBSCRIPTION = 50
MAX_SWEEP_INTERVAL_S = 30.0
REMEMBERED_CLOSED = 500  # closed subscription ids whose reason a later read is told


class StreamHub:
    def __init__(self, settings: Settings, client: BinanceClient, **socket_options: Any) -> None:
        self._settings = settings
        self._client = client
        self._socket_options = socket_options
        self._market: dict[str, MarketStreams] = {}
        self._user: dict[str, UserStreams] = {}
        self._subscriptions: dict[str, Subscription] = {}
        self._closed: dict[str, str] = {}  # id -> why it was closed, oldest first, bounded
        self._ids = itertools.count(1)
        self._sweeper: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def idle_s(self) -> float:
        return self._settings.stream_idle_s

    # -- subscriptions --------------------------------------------------------------------------

    async def subscribe_market(self, environment: str, streams: tuple[str, ...], capacity: int) -> Subscription:
        self._check_room(streams)
        url = self._settings.stream_urls[environment]
        subscription = Subscription(f"s{next(self._ids)}", streams, environment, capacity=capacity)
        async with self._lock:
            market = self._market.get(url)
            if market is None:
                market = self._market[url] = MarketStreams(url, **self._socket_options)
            await market.add(subscription)
        self._register(subscription)
        return subscription

    async def subscribe_account(self, account: Account, events: tuple[str, ...], capacity: int) -> Subscription:
        self._check_room(events)
        subscription = Subscription(f"s{next(self._ids)}", events, account.environment, account.name, capacity)
        user = self._user_streams(account)
        self._ensure_sweeper()  # a set-up that outlives this call is swept like any other
        await user.listen(account, subscription)
        self._register(subscription)
        return subscription

    def _check_room(self, streams: tuple[str, ...]) -> None:
        if len(self._subscriptions) >= MAX_SUBSCRIPTIONS:
            raise PolicyError(
                f"{MAX_SUBSCRIPTIONS} subscriptions are open, the most this server keeps",
                hint="Unsubscribe some (list_streams shows them) or combine streams in one subscription.",
            )
        if not streams or len(streams) > MAX_STREAMS_PER_SUBSCRIPTION:
            raise ToolInputError(
                f"give 1 to {MAX_STREAMS_PER_SUBSCRIPTION} stream names", parameter="streams"
            )

    def _register(self, subscription: Subscription) -> None:
        self._subscriptions[subscription.id] = subscription
        self._ensure_sweeper()

    def _ensure_sweeper(self) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever(), name="stream idle sweep")

    def get(self, subscription_id: str) -> Subscription:
        subscription = self._subscriptions.get(subscription_id.strip())
        if subscription is not None:
            return subscription
        reason = self._closed.get(subscription_id.strip())
        if reason is not None:
            raise ToolInputError(f"subscription '{subscription_id.strip()}' is closed: {reason}",
                                 parameter="subscription", hint="subscribe_stream again to go on watching.")
        open_ids = ", ".join(self._subscriptions) or "none"
        raise ToolInputError(
            f"no open subscription '{subscription_id[:40]}' (open: {open_ids})",
            parameter="subscription",
            hint="Use an id that subscribe_stream or list_streams gave; subscribe_stream to open one.",
        )

    async def unsubscribe(self, subscription_id: str, reason: str = "unsubscribed") -> Subscription:
        subscription = self.get(subscription_id)
        del self._subscriptions[subscription.id]
        subscription.close(reason)
        self._closed[subscription.id] = reason
        if len(self._closed) > REMEMBERED_CLOSED:
            del self._closed[next(iter(self._closed))]
        if subscription.account is None:
            url = self._settings.stream_urls[subscription.environment]
            market = self._market.get(url)
            if market is not None:
                async with self._lock:
                    await market.remove(subscription)
        else:
            for user in self._user.values():
                user.unlisten(subscription.account, subscription)
        return subscription

    def describe(self) -> dict[str, Any]:
        now = time.monotonic()
        out: dict[str, Any] = {
            "subscriptions": [s.describe(now) for s in self._subscriptions.values()],
            "idle_expiry_seconds": self.idle_s,
        }
        connections = []
        for url, market in self._market.items():
            if market.socket.running:
                connections.append({"market": url, "streams": len(market.stream_names), **_state(market.socket)})
        for url, user in self._user.items():
            if user.socket.running:
                connections.append({"user_data": url, "accounts": user.accounts(), **_state(user.socket)})
        out["connections"] = connections
        return out

    # -- the user data stream -------------------------------------------------------------------

    def _user_streams(self, account: Account) -> UserStreams:
        url = self._settings.ws_api_urls[account.environment]
        user = self._user.get(url)
        if user is None:
            user = self._user[url] = UserStreams(
                url, now_ms=self._now_ms, resync_clock=self._resync, **self._socket_options
            )
        return user

    def _now_ms(self, account: Account) -> int:
        return int(time.time() * 1000) + self._client.clock_offset_ms(account.base_url)

    async def _resync(self, account: Account) -> None:
        await self._client.sync_clock(account.base_url)

    async def watch_order(self, account: Account, watch: OrderWatch, timeout_s: float) -> None:
        """Start receiving ``account``'s events for one order; raises when they do not flow within
        ``timeout_s`` (the subscription is still set up in the background for later calls)."""
        self._ensure_sweeper()
        await self._user_streams(account).watch(account, watch, timeout_s)

    def user_ready(self, account: Account) -> bool:
        """True while ``account``'s events are flowing (connected and subscribed)."""
        user = self._user.get(self._settings.ws_api_urls[account.environment])
        return user is not None and user.flowing(account)

    def recent_order(self, account: Account, symbol: str, client_id: str) -> dict[str, Any] | None:
        """The newest executionReport of an order, when ``account``'s user data stream is running."""
        user = self._user.get(self._settings.ws_api_urls[account.environment])
        return None if user is None else user.recent_order(account, symbol, client_id)

    def unwatch_order(self, account: Account, watch: OrderWatch) -> None:
        for user in self._user.values():
            user.unwatch(account.name, watch)

    # -- expiry ---------------------------------------------------------------------------------

    async def sweep(self) -> list[str]:
        """Close what has been idle too long; returns the expired subscription ids."""
        now = time.monotonic()
        expired = [s.id for s in self._subscriptions.values() if not s.readers and now - s.last_used >= self.idle_s]
        for subscription_id in expired:
            logger.info("stream subscription %s expired after %.0f s idle", subscription_id, self.idle_s)
            await self.unsubscribe(subscription_id, reason=f"expired after {self.idle_s:g} s without a read")
        for user in list(self._user.values()):
            await user.expire(self.idle_s)
        return expired

    async def _sweep_forever(self) -> None:
        interval = min(MAX_SWEEP_INTERVAL_S, max(0.05, self.idle_s / 4))
        while self._subscriptions or any(not u.idle for u in self._user.values()):
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception:  # noqa: BLE001 - keep sweeping
                logger.exception("stream sweep failed")

    async def aclose(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for market in self._market.values():
            await market.aclose()
        for user in self._user.values():
            await user.aclose()
        for subscription in self._subscriptions.values():
            subscription.close("server stopped")
        self._subscriptions.clear()


def _state(socket: ReconnectingSocket) -> dict[str, Any]:
    """Whether a connection is open, how often it reconnected, and while it is not open, why."""
    state: dict[str, Any] = {"open": socket.ready.is_set(), "reconnects": max(0, socket.connects - 1)}
    if not state["open"] and socket.last_error:
        state["last_error"] = socket.last_error
    return state
