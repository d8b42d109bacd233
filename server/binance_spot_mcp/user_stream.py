"""The user data stream: order and balance events per account, over the WebSocket API.

Binance removed the REST listenKey endpoints; account events now come only from the WebSocket
API (web-socket-api.md, "User Data Stream requests"). One connection per WebSocket API URL
carries the subscriptions of every account that uses it: ``userDataStream.subscribe.signature``
is signed with the account's own key (HMAC, RSA or Ed25519), payload ``apiKey=..&timestamp=..``
with the parameters in alphabetical order. Events arrive as ``{"subscriptionId", "event"}``.

An account's subscription starts on first use (``subscribe_stream`` with an account, or
``wait_for_order``) and ends when nothing has used it for the idle time. After a reconnect every
account is subscribed again with a fresh signature. Keys only go to a URL that
``config.ws_url_problem`` accepts (invariant 3).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from binance_spot_mcp.accounts import Account
from binance_spot_mcp.config import WS_API_PATH, ws_url_problem
from binance_spot_mcp.errors import ExchangeError, PolicyError, hint_for
from binance_spot_mcp.stream_buffers import Subscription
from binance_spot_mcp.ws_connection import ReconnectingSocket

logger = logging.getLogger(__name__)

SUBSCRIBE = "userDataStream.subscribe.signature"
UNSUBSCRIBE = "userDataStream.unsubscribe"
TERMINATED = "eventStreamTerminated"
TIMESTAMP_ERROR = -1021
CONNECT_WAIT_S = 10.0
TERMINAL_STATUSES = frozenset({"FILLED", "CANCELED", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH"})
RECENT_ORDERS = 500  # latest executionReport per (symbol, client order id), for lost-reply look-ups


@dataclass(eq=False)
class OrderWatch:
    """Someone waiting for events of one order (``wait_for_order``)."""

    symbol: str
    order_id: int | None
    client_id: str | None
    events: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    def matches(self, event: dict[str, Any]) -> bool:
        if event.get("e") != "executionReport" or event.get("s") != self.symbol:
            return False
        if self.order_id is not None:
            return event.get("i") == self.order_id
        return self.client_id is not None and self.client_id in (event.get("c"), event.get("C"))


@dataclass(eq=False)
class _AccountFeed:
    account: Account
    subscription_id: int | None = None
    listeners: list[Subscription] = field(default_factory=list)
    watches: list[OrderWatch] = field(default_factory=list)
    last_used: float = field(default_factory=time.monotonic)
    recent: OrderedDict[tuple[str, str], dict[str, Any]] = field(default_factory=OrderedDict)

    def remember(self, event: dict[str, Any]) -> None:
        """Keep the newest executionReport of each order, by symbol and its own client id."""
        client_id = event.get("C") or event.get("c")
        if not isinstance(client_id, str) or not client_id:
            return
        key = (str(event.get("s")), client_id)
        self.recent.pop(key, None)
        self.recent[key] = event
        while len(self.recent) > RECENT_ORDERS:
            self.recent.popitem(last=False)

    @property
    def in_use(self) -> bool:
        return bool(self.listeners or self.watches)


class UserStreams:
    """The WebSocket API connection for one URL and the accounts subscribed on it."""

    def __init__(
        self,
        ws_api_url: str,
        *,
        now_ms: Callable[[Account], int],
        resync_clock: Callable[[Account], Awaitable[Any]],
        **socket_options: Any,
    ) -> None:
        problem = ws_url_problem(ws_api_url, path=WS_API_PATH)
        if problem:
            raise PolicyError(f"refusing to send keys to {ws_api_url}: {problem}")
        self.url = ws_api_url
        self._now_ms = now_ms
        self._resync_clock = resync_clock
        self._feeds: dict[str, _AccountFeed] = {}
        self._lock = asyncio.Lock()  # one subscribe per account, however many callers at once
        self._socket = ReconnectingSocket(
            ws_api_url, on_message=self._on_message, on_open=self._resubscribe, on_drop=self._on_drop, **socket_options
        )

    @property
    def socket(self) -> ReconnectingSocket:
        return self._socket

    def accounts(self) -> list[str]:
        return [name for name, feed in self._feeds.items() if feed.subscription_id is not None]

    # -- use ------------------------------------------------------------------------------------

    async def ensure(self, account: Account) -> None:
        """Make sure ``account``'s events flow (connect and subscribe when needed)."""
        async with self._lock:
            feed = self._feeds.get(account.name)
            if feed is None:
                feed = self._feeds[account.name] = _AccountFeed(account)
            elif feed.account is not account:  # TOOLS.md was re-read
                if feed.account.api_key != account.api_key and feed.subscription_id is not None:
                    await self._unsubscribe(feed.subscription_id)  # events of the old key must stop
                    feed.subscription_id = None
                feed.account = account
            feed.last_used = time.monotonic()
            self._socket.start()
            if not await self._socket.wait_ready(CONNECT_WAIT_S):
                raise ExchangeError(
                    status=0, code=None,
                    msg=f"could not open the WebSocket API at {self.url} ({self._socket.last_error or 'timeout'})",
                    hint="Events are unavailable; REST tools still work.",
                )
            if feed.subscription_id is None:
                await self._subscribe(feed)

    async def listen(self, account: Account, subscription: Subscription) -> None:
        await self.ensure(account)
        self._feeds[account.name].listeners.append(subscription)

    def unlisten(self, account_name: str, subscription: Subscription) -> None:
        feed = self._feeds.get(account_name)
        if feed is not None and subscription in feed.listeners:
            feed.listeners.remove(subscription)
            feed.last_used = time.monotonic()

    async def watch(self, account: Account, watch: OrderWatch) -> None:
        await self.ensure(account)
        self._feeds[account.name].watches.append(watch)

    def recent_order(self, account: Account, symbol: str, client_id: str) -> dict[str, Any] | None:
        """The newest executionReport seen for this order, while the account's events are flowing."""
        feed = self._feeds.get(account.name)
        if feed is None or feed.subscription_id is None or feed.account.api_key != account.api_key:
            return None
        return feed.recent.get((symbol, client_id))

    def unwatch(self, account_name: str, watch: OrderWatch) -> None:
        feed = self._feeds.get(account_name)
        if feed is not None and watch in feed.watches:
            feed.watches.remove(watch)
            feed.last_used = time.monotonic()

    async def expire(self, idle_s: float) -> None:
        """Stop the subscriptions nobody used for ``idle_s``; close the connection when none is left."""
        now = time.monotonic()
        for name, feed in list(self._feeds.items()):
            if not feed.in_use and now - feed.last_used >= idle_s:
                del self._feeds[name]
                if feed.subscription_id is not None:
                    await self._unsubscribe(feed.subscription_id)
        if not self._feeds:
            await self._socket.aclose()

    async def _unsubscribe(self, subscription_id: int) -> None:
        if not self._socket.ready.is_set():
            return  # a closed connection ended it already
        try:
            await self._socket.request({"method": UNSUBSCRIBE, "params": {"subscriptionId": subscription_id}})
        except Exception as exc:  # noqa: BLE001 - it ends with the connection anyway
            logger.info("user data unsubscribe failed: %s", type(exc).__name__)

    @property
    def idle(self) -> bool:
        return not self._feeds

    async def aclose(self) -> None:
        await self._socket.aclose()

    # -- subscribing ------------------------------------------------------------------------------

    def _signed_params(self, account: Account) -> dict[str, Any]:
        timestamp = self._now_ms(account)
        payload = f"apiKey={account.api_key}&timestamp={timestamp}"
        signature = account.signer.sign(payload.encode("utf-8"))
        return {"apiKey": account.api_key, "timestamp": timestamp, "signature": signature}

    async def _subscribe(self, feed: _AccountFeed) -> None:
        for attempt in range(2):
            reply = await self._socket.request({"method": SUBSCRIBE, "params": self._signed_params(feed.account)})
            status = reply.get("status") if isinstance(reply, dict) else None
            if status == 200 and isinstance(reply.get("result"), dict):
                feed.subscription_id = int(reply["result"]["subscriptionId"])
                return
            error = reply.get("error") if isinstance(reply, dict) and isinstance(reply.get("error"), dict) else {}
            code = error.get("code") if isinstance(error.get("code"), int) else None
            if code == TIMESTAMP_ERROR and attempt == 0:
                await self._resync_clock(feed.account)
                continue
            raise ExchangeError(
                status=int(status or 0), code=code, msg=str(error.get("msg", "user data subscription refused")),
                hint=hint_for(int(status or 0), code),
            )

    async def _resubscribe(self) -> None:
        for feed in list(self._feeds.values()):
            feed.subscription_id = None
            try:
                await self._subscribe(feed)
            except Exception as exc:  # noqa: BLE001 - the others still get their events
                logger.warning("user data stream for %s not restored: %s", feed.account.name, type(exc).__name__)

    def _on_drop(self) -> None:
        for feed in self._feeds.values():
            feed.subscription_id = None
            for subscription in feed.listeners:
                subscription.gap()

    def _on_message(self, message: Any) -> None:
        if not isinstance(message, dict) or not isinstance(message.get("event"), dict):
            return
        event, sub_id = message["event"], message.get("subscriptionId")
        feed = next((f for f in self._feeds.values() if f.subscription_id == sub_id), None)
        if feed is None:
            return
        kind = event.get("e")
        if kind == TERMINATED:
            feed.subscription_id = None
            return
        if kind == "executionReport":
            feed.remember(event)
        for subscription in feed.listeners:
            if kind in subscription.streams:
                subscription.push(kind, event)
        for watch in feed.watches:
            if watch.matches(event):
                watch.events.put_nowait(event)
