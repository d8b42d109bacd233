"""Account events of paper accounts: from the paper desk on this computer, never over a WebSocket.

A paper account trades on this computer (the paper wing), so its ``executionReport`` and
``outboundAccountPosition`` events come from the desk's ``EventHub``, in the user data stream's
shapes: nothing is signed and nothing is sent, and no WebSocket API connection is opened. The
desk catches an account up with the market on each call for it; while anyone listens to the
account (a subscription, or a ``wait_for_order``) it also catches up every ``interval_s``, one
catch-up at a time, each bounded by ``CATCH_UP_LIMIT_S`` and backing off after a failure, so a
resting order's fill arrives as an event without another call. When the last listener leaves,
the account's feed ends: its desk listener is removed and its catch-up is cancelled.

``PaperFeeds`` offers what ``hub`` asks of ``user.UserStreams`` (listen, watch, flowing, ...).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.paper.desk import PaperDesk
from binance_spot_mcp.streams.buffers import Subscription
from binance_spot_mcp.streams.user import OrderWatch, _AccountFeed

logger = logging.getLogger(__name__)

CATCH_UP_S = 1.0  # how often an account with listeners is caught up with the market
CATCH_UP_LIMIT_S = 20.0  # the most one catch-up may take before it is given up (and tried again later)
MAX_BACKOFF_S = 30.0  # after failures, the pause between catch-ups grows up to this
SOURCE = "the paper desk on this computer"


class PaperFeeds:
    """The paper accounts being listened to, fed by the desk's events and kept caught up."""

    def __init__(self, desk: Callable[[], PaperDesk], interval_s: float = CATCH_UP_S) -> None:
        self._desk = desk
        self.interval_s = interval_s
        self._feeds: dict[str, _AccountFeed] = {}  # by account name, only while in use
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {}
        self._tickers: dict[str, asyncio.Task[None]] = {}

    def accounts(self) -> list[str]:
        return list(self._feeds)

    def flowing(self, account: Account) -> bool:
        """True while ``account``'s events are delivered (someone listens: nothing can drop them)."""
        return account.name in self._feeds

    async def listen(self, account: Account, subscription: Subscription, timeout_s: float = 0.0) -> None:
        self._attach(account).listeners.append(subscription)

    def unlisten(self, account_name: str, subscription: Subscription) -> None:
        self._detach(account_name, "listeners", subscription)

    async def watch(self, account: Account, watch: OrderWatch, timeout_s: float = 0.0) -> None:
        self._attach(account).watches.append(watch)

    def unwatch(self, account_name: str, watch: OrderWatch) -> None:
        self._detach(account_name, "watches", watch)

    def recent_order(self, account: Account, symbol: str, client_id: str) -> dict[str, Any] | None:
        feed = self._feeds.get(account.name)
        return None if feed is None else feed.recent.get((symbol, client_id))

    async def expire(self, idle_s: float) -> None:
        """Nothing to expire: a feed ends with its last listener."""

    @property
    def idle(self) -> bool:
        return not self._feeds

    async def aclose(self) -> None:
        for name in list(self._feeds):
            self._end(name)

    # -- feeds ------------------------------------------------------------------------------------

    def _attach(self, account: Account) -> _AccountFeed:
        feed = self._feeds.get(account.name)
        if feed is None:
            desk = self._desk()  # before anything changes: a server without a desk refuses here
            feed = _AccountFeed(account)

            def handler(event: dict[str, Any], feed: _AccountFeed = feed) -> None:
                feed.deliver(event.get("e"), event)

            desk.events.listen(account.name, handler)
            self._feeds[account.name], self._handlers[account.name] = feed, handler
            self._tickers[account.name] = asyncio.get_running_loop().create_task(
                self._catch_up_forever(account.name), name=f"paper catch-up {account.name}")
        feed.account = account  # TOOLS.md may have been read again: its latest entry
        feed.last_used = time.monotonic()
        return feed

    def _detach(self, account_name: str, kind: str, user: Any) -> None:
        feed = self._feeds.get(account_name)
        if feed is None:
            return
        if user in getattr(feed, kind):
            getattr(feed, kind).remove(user)
        if not feed.in_use:
            self._end(account_name)

    def _end(self, account_name: str) -> None:
        self._feeds.pop(account_name, None)
        handler = self._handlers.pop(account_name, None)
        if handler is not None:
            self._desk().events.unlisten(account_name, handler)
        ticker = self._tickers.pop(account_name, None)
        if ticker is not None:
            ticker.cancel()

    async def _catch_up_forever(self, account_name: str) -> None:
        delay = self.interval_s
        while True:
            await asyncio.sleep(delay)
            feed = self._feeds.get(account_name)
            if feed is None:
                return
            try:
                async with asyncio.timeout(CATCH_UP_LIMIT_S):
                    await self._desk().placer.catch_up(feed.account)
            except Exception as exc:  # noqa: BLE001 - the next call or the next period tries again
                delay = min(max(delay, self.interval_s) * 2, MAX_BACKOFF_S)
                logger.info("paper catch-up for %s failed (%s); next try in %.0f s", account_name,
                            type(exc).__name__, delay)
            else:
                delay = self.interval_s
