"""The live-data state of a running server: subscriptions, their connections, idle expiry.

``StreamHub`` owns one ``MarketStreams`` per stream URL and one ``UserStreams`` per WebSocket API
URL, opened on first use; a paper account's events come from the paper desk (``paper.PaperFeeds``),
never from a WebSocket, and an environment without a WebSocket API is refused by name. A
subscription belongs to the MCP session that opened it (``owner``, the approval book's session
key; "" where a transport has no session): every look-up, list and
close is by (owner, id), so another session can neither see nor touch it, nor learn of it from an
error. Ids are random (``s_`` and 16 URL-safe characters), not a sequence to walk. All buffers
share one ``ByteBudget``. A subscription that nobody has read for ``Settings.stream_idle_s`` is
closed, and a connection with nothing left on it is closed too; the sweep runs before every
stream tool call and in a background task.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any

from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.config import Settings
from binance_spot_mcp.errors import PolicyError, ToolInputError
from binance_spot_mcp.exchange.client import BinanceClient
from binance_spot_mcp.paper.desk import PaperDesk
from binance_spot_mcp.paper.routing import PaperRoutingClient, is_paper
from binance_spot_mcp.streams.buffers import ByteBudget, Subscription
from binance_spot_mcp.streams.connection import ReconnectingSocket
from binance_spot_mcp.streams.market import MarketStreams
from binance_spot_mcp.streams.paper import CATCH_UP_S, SOURCE, PaperFeeds
from binance_spot_mcp.streams.user import OrderWatch, UserStreams

logger = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS = 200
ID_BYTES = 12  # 16 URL-safe characters
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
        self._paper: PaperFeeds | None = None  # paper accounts' events: from the desk, never a WebSocket
        self.paper_catch_up_s = CATCH_UP_S
        self._subscriptions: dict[str, Subscription] = {}
        self._closed: dict[str, tuple[str, str]] = {}  # id -> (owner, why it was closed), oldest first, bounded
        self.budget = ByteBudget()
        self._sweeper: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def idle_s(self) -> float:
        return self._settings.stream_idle_s

    # -- subscriptions --------------------------------------------------------------------------

    def _new_id(self) -> str:
        while True:
            candidate = f"s_{secrets.token_urlsafe(ID_BYTES)}"
            if candidate not in self._subscriptions and candidate not in self._closed:
                return candidate

    async def subscribe_market(
        self, environment: str, streams: tuple[str, ...], capacity: int, owner: str = ""
    ) -> Subscription:
        self._check_room(streams)
        url = self._settings.stream_urls[environment]
        subscription = Subscription(self._new_id(), streams, environment, capacity=capacity, budget=self.budget,
                                    owner=owner)
        async with self._lock:
            market = self._market.get(url)
            if market is None:
                market = self._market[url] = MarketStreams(url, **self._socket_options)
            try:
                await market.add(subscription)
            except BaseException:
                subscription.close("not opened")  # its bytes go back to the budget
                raise
        self._register(subscription)
        return subscription

    async def subscribe_account(
        self, account: Account, events: tuple[str, ...], capacity: int, owner: str = ""
    ) -> Subscription:
        self._check_room(events)
        subscription = Subscription(self._new_id(), events, account.environment, account.name, capacity,
                                    budget=self.budget, owner=owner)
        user = self._user_streams(account)
        self._ensure_sweeper()  # a set-up that outlives this call is swept like any other
        try:
            await user.listen(account, subscription)
        except BaseException:
            subscription.close("not opened")  # its bytes go back to the budget
            raise
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

    def get(self, subscription_id: str, owner: str = "") -> Subscription:
        """The subscription ``owner`` opened with this id; another session's is unknown here."""
        subscription = self._subscriptions.get(subscription_id.strip())
        if subscription is not None and subscription.owner == owner:
            return subscription
        closed = self._closed.get(subscription_id.strip())
        if closed is not None and closed[0] == owner:
            raise ToolInputError(f"subscription '{subscription_id.strip()}' is closed: {closed[1]}",
                                 parameter="subscription", hint="subscribe_stream again to go on watching.")
        open_ids = ", ".join(s.id for s in self._subscriptions.values() if s.owner == owner) or "none"
        raise ToolInputError(
            f"no open subscription '{subscription_id[:40]}' (open: {open_ids})",
            parameter="subscription",
            hint="Use an id that subscribe_stream or list_streams gave; subscribe_stream to open one.",
        )

    async def unsubscribe(self, subscription_id: str, reason: str = "unsubscribed", owner: str = "") -> Subscription:
        subscription = self.get(subscription_id, owner)
        del self._subscriptions[subscription.id]
        subscription.close(reason)
        self._closed[subscription.id] = (subscription.owner, reason)
        if len(self._closed) > REMEMBERED_CLOSED:
            del self._closed[next(iter(self._closed))]
        if subscription.account is None:
            url = self._settings.stream_urls[subscription.environment]
            market = self._market.get(url)
            if market is not None:
                async with self._lock:
                    await market.remove(subscription)
        else:
            for user in self._user_sides():
                user.unlisten(subscription.account, subscription)
        return subscription

    def describe(self, owner: str = "") -> dict[str, Any]:
        """``owner``'s subscriptions, and the connections that serve them (nothing of other sessions)."""
        now = time.monotonic()
        mine = [s for s in self._subscriptions.values() if s.owner == owner]
        out: dict[str, Any] = {
            "subscriptions": [s.describe(now) for s in mine],
            "idle_expiry_seconds": self.idle_s,
        }
        market_urls = {self._settings.stream_urls[s.environment] for s in mine if s.account is None}
        accounts = {s.account for s in mine if s.account is not None}
        connections = []
        for url, market in self._market.items():
            if market.socket.running and url in market_urls:
                streams = {name for s in mine if s.account is None for name in s.streams}
                connections.append({"market": url, "streams": len(streams), **_state(market.socket)})
        for url, user in self._user.items():
            names = [name for name in user.accounts() if name in accounts]
            if user.socket.running and names:
                connections.append({"user_data": url, "accounts": names, **_state(user.socket)})
        paper = [name for name in (self._paper.accounts() if self._paper else []) if name in accounts]
        if paper:
            connections.append({"paper_events": paper, "source": SOURCE, "open": True})
        out["connections"] = connections
        return out

    # -- the user data stream -------------------------------------------------------------------

    def _user_streams(self, account: Account) -> UserStreams | PaperFeeds:
        """Where ``account``'s events come from: the paper desk for a paper account (nothing is
        signed or sent), else the WebSocket API of its environment (opened on first use)."""
        if is_paper(account):
            if self._paper is None:
                self._paper = PaperFeeds(self._paper_desk, self.paper_catch_up_s)
            return self._paper
        url = self._settings.ws_api_urls.get(account.environment)
        if url is None:  # never index it blindly: a new environment without a WebSocket API fails clearly
            raise PolicyError(f"account '{account.name}' ({account.environment}) has no user data stream: "
                              f"there is no WebSocket API for the {account.environment} environment",
                              hint="Use get_order or get_open_orders to follow its orders.")
        user = self._user.get(url)
        if user is None:
            user = self._user[url] = UserStreams(
                url, now_ms=self._now_ms, resync_clock=self._resync, **self._socket_options
            )
        return user

    def _paper_desk(self) -> PaperDesk:
        if not isinstance(self._client, PaperRoutingClient):
            raise PolicyError("paper accounts' events come from the paper desk, and this server has none",
                              hint="This is a bug; please report it.")
        return self._client.desk

    def _user_sides(self) -> list[UserStreams | PaperFeeds]:
        return [*self._user.values(), *([self._paper] if self._paper is not None else [])]

    def _existing_user(self, account: Account) -> UserStreams | PaperFeeds | None:
        """The events source ``account`` uses, when it is open (nothing is opened or refused here)."""
        if is_paper(account):
            return self._paper
        url = self._settings.ws_api_urls.get(account.environment)
        return None if url is None else self._user.get(url)

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
        user = self._existing_user(account)
        return user is not None and user.flowing(account)

    def recent_order(self, account: Account, symbol: str, client_id: str) -> dict[str, Any] | None:
        """The newest executionReport of an order, when ``account``'s user data stream is running."""
        user = self._existing_user(account)
        return None if user is None else user.recent_order(account, symbol, client_id)

    def unwatch_order(self, account: Account, watch: OrderWatch) -> None:
        for user in self._user_sides():
            user.unwatch(account.name, watch)

    # -- expiry ---------------------------------------------------------------------------------

    async def sweep(self) -> list[str]:
        """Close what has been idle too long; returns the expired subscription ids."""
        now = time.monotonic()
        expired = [s.id for s in self._subscriptions.values() if not s.readers and now - s.last_used >= self.idle_s]
        for subscription_id in expired:
            logger.info("stream subscription %s expired after %.0f s idle", subscription_id, self.idle_s)
            subscription = self._subscriptions.get(subscription_id)
            if subscription is None:
                continue
            await self.unsubscribe(subscription_id, reason=f"expired after {self.idle_s:g} s without a read",
                                   owner=subscription.owner)
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
        for user in self._user_sides():
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
