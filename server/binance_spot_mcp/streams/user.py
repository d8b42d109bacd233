"""The user data stream: order and balance events per account, over the WebSocket API.

Binance removed the REST listenKey endpoints; account events now come only from the WebSocket
API (web-socket-api.md, "User Data Stream requests"). One connection per WebSocket API URL
carries the subscriptions of every account that uses it: ``userDataStream.subscribe.signature``
is signed with the account's own key (HMAC, RSA or Ed25519), payload ``apiKey=..&timestamp=..``
with the parameters in alphabetical order. Events arrive as ``{"subscriptionId", "event"}``.

Subscriptions are kept per API key: account entries in TOOLS.md that share one key share one
subscription (Binance allows one per Binance account on a connection). Two entries with
*different* keys of the same Binance account cannot both subscribe on one connection: the second
is refused with -2035 SUBSCRIPTION_ACTIVE, and says which entries are subscribed.

An account's subscription starts on first use (``subscribe_stream`` with an account, or
``wait_for_order``) and ends when nothing has used it for the idle time. Callers wait for it at
most the time they pass; the connecting and subscribing go on in the background, so a later call
finds them done. After a reconnect every account is subscribed again with a fresh signature;
when Binance ends one subscription (``eventStreamTerminated``) while someone still listens, it is
subscribed again at once. Either way the listeners are told that the events stopped, and once
they flow again that some may be missing. Keys only go to a URL that ``config.ws_url_problem``
accepts (invariant 3).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.config import WS_API_PATH, ws_url_problem
from binance_spot_mcp.errors import ExchangeError, PolicyError, TransportError, hint_for
from binance_spot_mcp.results import dumps
from binance_spot_mcp.streams.buffers import Subscription
from binance_spot_mcp.streams.connection import ReconnectingSocket, connection_failed

logger = logging.getLogger(__name__)

SUBSCRIBE = "userDataStream.subscribe.signature"
UNSUBSCRIBE = "userDataStream.unsubscribe"
TERMINATED = "eventStreamTerminated"
TIMESTAMP_ERROR = -1021
SUBSCRIPTION_ACTIVE = -2035  # errors.md: this Binance account is already subscribed on the connection
CONNECT_WAIT_S = 10.0  # how long the background set-up waits for the connection
SETUP_WAIT_S = 10.0  # how long a caller waits for an account's events to flow, unless it says less
TERMINAL_STATUSES = frozenset({"FILLED", "CANCELED", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH"})
RECENT_ORDERS = 500  # latest executionReport per (symbol, client order id), for lost-reply look-ups


@dataclass(eq=False)
class OrderWatch:
    """Someone waiting for events of one order (``wait_for_order``)."""

    symbol: str
    order_id: int | None
    client_id: str | None
    events: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    missed: bool = False  # the account's events stopped for a while: some may never arrive

    def matches(self, event: dict[str, Any]) -> bool:
        if event.get("e") != "executionReport" or event.get("s") != self.symbol:
            return False
        if self.order_id is not None:
            return event.get("i") == self.order_id
        return self.client_id is not None and self.client_id in (event.get("c"), event.get("C"))


@dataclass(eq=False)
class _AccountFeed:
    account: Account
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

    def deliver(self, kind: Any, event: dict[str, Any]) -> None:
        if kind == "executionReport":
            self.remember(event)
        size = None
        for subscription in self.listeners:
            if kind in subscription.streams:
                size = len(dumps(event)) if size is None else size  # once, for every listener
                subscription.push(kind, event, size)
        for watch in self.watches:
            if watch.matches(event):
                watch.events.put_nowait(event)

    def lost(self) -> None:
        """The events stopped (a drop, or Binance ended the subscription): some may never arrive."""
        for subscription in self.listeners:
            subscription.lost()
        for watch in self.watches:
            watch.missed = True

    def back(self) -> None:
        """The events flow again: readers that saw them stop are told some may be missing."""
        for subscription in self.listeners:
            subscription.gap()

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
        self._feeds: dict[str, _AccountFeed] = {}  # by account name
        self._subscribed: dict[str, int] = {}  # API key -> subscriptionId on the current connection
        self._setups: dict[str, asyncio.Task[None]] = {}  # API key -> connect-and-subscribe under way
        self._background: set[asyncio.Task[None]] = set()
        self._socket = ReconnectingSocket(
            ws_api_url, on_message=self._on_message, on_open=self._resubscribe, on_drop=self._on_drop, **socket_options
        )

    @property
    def socket(self) -> ReconnectingSocket:
        return self._socket

    def accounts(self) -> list[str]:
        return [name for name, feed in self._feeds.items() if feed.account.api_key in self._subscribed]

    def flowing(self, account: Account) -> bool:
        """True while ``account``'s events arrive (connected and subscribed)."""
        feed = self._feeds.get(account.name)
        return (self._socket.ready.is_set() and feed is not None and feed.account.api_key == account.api_key
                and feed.account.api_key in self._subscribed)

    # -- use ------------------------------------------------------------------------------------

    async def ensure(self, account: Account, timeout_s: float = SETUP_WAIT_S) -> None:
        """Make sure ``account``'s events flow, waiting at most ``timeout_s`` for the connection and
        the subscription. When the wait ends first the set-up goes on in the background."""
        self._feed(account)
        self._socket.start()
        if self.flowing(account):
            return
        task = self._setup_task(account.api_key)
        done, _ = await asyncio.wait({task}, timeout=max(0.0, timeout_s))
        if not done:
            raise TransportError(
                f"the user data stream at {self.url} was not ready within {timeout_s:.1f} s",
                sent=True, hint="Events are unavailable for now; REST tools still work.",
            )
        task.result()

    async def listen(self, account: Account, subscription: Subscription, timeout_s: float = SETUP_WAIT_S) -> None:
        await self._attach(account, self._feed(account).listeners, subscription, timeout_s)

    def unlisten(self, account_name: str, subscription: Subscription) -> None:
        self._detach(account_name, "listeners", subscription)

    async def watch(self, account: Account, watch: OrderWatch, timeout_s: float = SETUP_WAIT_S) -> None:
        await self._attach(account, self._feed(account).watches, watch, timeout_s)

    def unwatch(self, account_name: str, watch: OrderWatch) -> None:
        self._detach(account_name, "watches", watch)

    async def _attach(self, account: Account, users: list[Any], user: Any, timeout_s: float) -> None:
        users.append(user)  # in use from now on, so the idle sweep leaves the feed alone meanwhile
        try:
            await self.ensure(account, timeout_s)
        except BaseException:
            users.remove(user)
            raise

    def _detach(self, account_name: str, kind: str, user: Any) -> None:
        feed = self._feeds.get(account_name)
        if feed is not None and user in getattr(feed, kind):
            getattr(feed, kind).remove(user)
            feed.last_used = time.monotonic()

    def recent_order(self, account: Account, symbol: str, client_id: str) -> dict[str, Any] | None:
        """The newest executionReport seen for this order, while the account's events are flowing."""
        if not self.flowing(account):
            return None
        return self._feeds[account.name].recent.get((symbol, client_id))

    def _feed(self, account: Account) -> _AccountFeed:
        feed = self._feeds.get(account.name)
        if feed is None:
            feed = self._feeds[account.name] = _AccountFeed(account)
        elif feed.account is not account:  # TOOLS.md was re-read
            old_key, feed.account = feed.account.api_key, account
            if old_key != account.api_key:
                self._release(old_key)  # events of the old key must stop
        feed.last_used = time.monotonic()
        return feed

    async def expire(self, idle_s: float) -> None:
        """Stop the subscriptions nobody used for ``idle_s``; close the connection when none is left."""
        now = time.monotonic()
        for name, feed in list(self._feeds.items()):
            if not feed.in_use and now - feed.last_used >= idle_s:
                del self._feeds[name]
        for api_key in list(self._subscribed):
            self._release(api_key)
        if not self._feeds:
            await self._socket.aclose()

    def _release(self, api_key: str) -> None:
        """Unsubscribe ``api_key`` when no account entry uses it any more."""
        if self._feeds_of(api_key):
            return
        subscription_id = self._subscribed.pop(api_key, None)  # its eventStreamTerminated is ignored
        if subscription_id is not None:
            self._in_background(self._unsubscribe(subscription_id))

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
        for task in [*self._setups.values(), *self._background]:
            task.cancel()
        await self._socket.aclose()

    # -- subscribing ------------------------------------------------------------------------------

    def _in_background(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work, name=f"user data {self.url}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def _setup_task(self, api_key: str) -> asyncio.Task[None]:
        """Connect and subscribe ``api_key`` in the background; every caller waits on the same task."""
        running = self._setups.get(api_key)
        if running is not None and not running.done():
            return running
        task = self._in_background(self._setup(api_key))
        self._setups[api_key] = task

        def finished(done: asyncio.Task[None]) -> None:
            if self._setups.get(api_key) is done:
                del self._setups[api_key]
            if not done.cancelled() and done.exception() is not None:
                self._log_failure(api_key, done.exception())

        task.add_done_callback(finished)
        return task

    async def _setup(self, api_key: str) -> None:
        if not await self._socket.wait_ready(CONNECT_WAIT_S):
            raise connection_failed(self.url, self._socket.last_error,
                                    hint="Events are unavailable; REST tools still work.")
        if api_key not in self._subscribed:
            await self._subscribe(api_key)

    def _feeds_of(self, api_key: str) -> list[_AccountFeed]:
        return [feed for feed in self._feeds.values() if feed.account.api_key == api_key]

    def _names(self, api_key: str) -> list[str]:
        return [feed.account.name for feed in self._feeds_of(api_key)]

    def _log_failure(self, api_key: str, exc: BaseException | None) -> None:
        names = ", ".join(self._names(api_key)) or "a removed account"
        logger.warning("user data subscription for %s failed: %s", names, type(exc).__name__)

    def _signed_params(self, account: Account) -> dict[str, Any]:
        timestamp = self._now_ms(account)
        payload = f"apiKey={account.api_key}&timestamp={timestamp}"
        signature = account.signer.sign(payload.encode("utf-8"))
        return {"apiKey": account.api_key, "timestamp": timestamp, "signature": signature}

    async def _subscribe(self, api_key: str) -> None:
        for attempt in range(2):
            feeds = self._feeds_of(api_key)
            if not feeds:
                return  # nobody needs it any more
            feed = feeds[0]
            reply = await self._socket.request({"method": SUBSCRIBE, "params": self._signed_params(feed.account)})
            status = reply.get("status") if isinstance(reply, dict) else None
            if status == 200 and isinstance(reply.get("result"), dict):
                self._subscribed[api_key] = int(reply["result"]["subscriptionId"])
                for feed in feeds:
                    feed.back()
                return
            error = reply.get("error") if isinstance(reply, dict) and isinstance(reply.get("error"), dict) else {}
            code = error.get("code") if isinstance(error.get("code"), int) else None
            if code == TIMESTAMP_ERROR and attempt == 0:
                await self._resync_clock(feed.account)
                continue
            msg, hint = str(error.get("msg", "user data subscription refused")), hint_for(int(status or 0), code)
            if code == SUBSCRIPTION_ACTIVE:
                msg, hint = self._already_subscribed(api_key, msg)
            raise ExchangeError(status=int(status or 0), code=code, msg=msg, hint=hint)

    def _already_subscribed(self, api_key: str, msg: str) -> tuple[str, str]:
        """Explain -2035: another entry, with another key of the same Binance account, holds the subscription."""
        others = sorted(name for name, feed in self._feeds.items()
                        if feed.account.api_key != api_key and feed.account.api_key in self._subscribed)
        if not others:
            return (f"{msg} (Binance already has a user data subscription for this Binance account on this "
                    "connection)", "This account's events are unavailable for now; REST tools still work.")
        return (
            f"{msg} (Binance allows one user data subscription per Binance account on a connection; another "
            f"account entry with a different API key for the same Binance account is already subscribed here: "
            f"{' or '.join(others)})",
            "Read this Binance account's events through that entry (subscribe_stream with its name as account); "
            "wait_for_order still works for this entry, by polling get_order.",
        )

    async def _resubscribe(self) -> None:
        self._subscribed.clear()
        for api_key in dict.fromkeys(f.account.api_key for f in self._feeds.values()):
            try:
                await self._subscribe(api_key)
            except Exception as exc:  # noqa: BLE001 - the others still get their events
                self._log_failure(api_key, exc)

    def _on_drop(self) -> None:
        self._subscribed.clear()
        for feed in self._feeds.values():
            feed.lost()

    def _on_message(self, message: Any) -> None:
        if not isinstance(message, dict) or not isinstance(message.get("event"), dict):
            return
        event, sub_id = message["event"], message.get("subscriptionId")
        api_key = next((key for key, known in self._subscribed.items() if known == sub_id), None)
        if api_key is None:
            return
        feeds = self._feeds_of(api_key)
        kind = event.get("e")
        if kind == TERMINATED:  # Binance ended it: subscribe again at once if anyone still listens
            del self._subscribed[api_key]
            for feed in feeds:
                feed.lost()
            if any(f.in_use for f in feeds):
                self._setup_task(api_key)
            return
        for feed in feeds:
            feed.deliver(kind, event)
