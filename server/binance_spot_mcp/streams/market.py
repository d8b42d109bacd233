"""Market streams: one combined-stream connection per environment, shared by all subscriptions.

The connection goes to ``<stream URL>/stream`` (combined payloads ``{"stream", "data"}``) and
streams are added and removed with ``SUBSCRIBE`` / ``UNSUBSCRIBE`` messages, several names per
message, so the 5-messages-a-second limit is never near. A stream stays subscribed while at least
one subscription uses it; after a reconnect every open stream is subscribed again and each
subscription is told that events may be missing. No key is ever sent on this connection.

When Binance refuses a ``SUBSCRIBE``:

* for a new subscription, ``add`` raises ``ExchangeError`` with Binance's code and message; the
  subscription's streams are forgotten (and the connection closed when nothing else uses it);
* after a reconnect, the connection counts as failed and is replaced after a growing delay (see
  ``connection``), with every stream kept. Each of those streams was accepted by Binance
  before, so the refusal is taken as passing; while it lasts, ``socket.last_error`` says why,
  and closing the subscriptions that use the stream at fault ends it.

A new subscription's streams are only ever sent in its own ``SUBSCRIBE``, never in the one after
a reconnect, so a name Binance refuses cannot stop the streams of other subscriptions.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from binance_spot_mcp.errors import ExchangeError, PolicyError
from binance_spot_mcp.results import dumps
from binance_spot_mcp.streams.buffers import Subscription
from binance_spot_mcp.streams.connection import ReconnectingSocket, connection_failed

logger = logging.getLogger(__name__)

MAX_STREAMS_PER_CONNECTION = 1024  # Binance's limit
NAMES_PER_MESSAGE = 200
CONNECT_WAIT_S = 10.0


class MarketStreams:
    """The market-stream connection of one environment (one stream URL)."""

    def __init__(self, stream_url: str, **socket_options: Any) -> None:
        self.url = f"{stream_url}/stream"
        self._counts: Counter[str] = Counter()
        self._live: set[str] = set()  # subscribed on the current connection
        self._adding: set[str] = set()  # new streams waiting for their own SUBSCRIBE in ``add``
        self._subscriptions: dict[str, list[Subscription]] = {}
        self._socket = ReconnectingSocket(
            self.url, on_message=self._on_message, on_open=self._resubscribe, on_drop=self._on_drop, **socket_options
        )

    @property
    def socket(self) -> ReconnectingSocket:
        return self._socket

    @property
    def stream_names(self) -> list[str]:
        return sorted(self._counts)

    @property
    def idle(self) -> bool:
        return not self._counts

    async def add(self, subscription: Subscription) -> None:
        """Subscribe the streams of ``subscription`` (those not open yet) and route them to it."""
        new = [s for s in subscription.streams if s not in self._counts]
        if len(self._counts) + len(new) > MAX_STREAMS_PER_CONNECTION:
            raise PolicyError(
                f"that would exceed {MAX_STREAMS_PER_CONNECTION} streams on one connection",
                hint="Unsubscribe streams you no longer read (list_streams shows them).",
            )
        for name in subscription.streams:
            self._counts[name] += 1
            self._subscriptions.setdefault(name, []).append(subscription)
        self._adding.update(new)
        try:
            self._socket.start()
            if not await self._socket.wait_ready(CONNECT_WAIT_S):
                raise connection_failed(
                    self.url, self._socket.last_error,
                    hint="Nothing reached Binance. Check the network; the stream URL may be blocked. Use REST tools meanwhile.",
                )
            missing = [name for name in new if name not in self._live]
            if missing:
                await self._command("SUBSCRIBE", missing)
        except Exception:
            self._forget(subscription)
            # streams of an earlier batch that Binance accepted, if a later one was refused
            await self._release([name for name in new if name in self._live and name not in self._counts])
            raise
        except BaseException:  # cancelled: nothing more may be awaited
            self._forget(subscription)
            raise
        finally:
            self._adding.difference_update(new)

    async def remove(self, subscription: Subscription) -> None:
        await self._release(self._forget(subscription))

    async def _release(self, names: list[str]) -> None:
        """Unsubscribe ``names`` (no longer used), and close the connection when nothing is left."""
        if names and self._socket.ready.is_set():
            try:
                await self._command("UNSUBSCRIBE", names)
            except Exception as exc:  # noqa: BLE001 - the streams are dropped locally either way
                logger.info("UNSUBSCRIBE on %s failed: %s", self.url, type(exc).__name__)
        if self.idle:
            await self._socket.aclose()  # closed until a subscription needs it again
            self._live.clear()

    def _forget(self, subscription: Subscription) -> list[str]:
        gone = []
        for name in subscription.streams:
            routed = self._subscriptions.get(name, [])
            if subscription in routed:
                routed.remove(subscription)
                self._counts[name] -= 1
                if self._counts[name] <= 0:
                    del self._counts[name]
                    self._subscriptions.pop(name, None)
                    gone.append(name)
        return gone

    async def aclose(self) -> None:
        await self._socket.aclose()

    async def _command(self, method: str, names: Iterable[str]) -> None:
        """Send ``SUBSCRIBE`` or ``UNSUBSCRIBE`` in batches; ``_live`` follows each accepted batch.

        Raises ``ExchangeError`` with Binance's code and message when a batch is refused.
        """
        names = list(names)
        for start in range(0, len(names), NAMES_PER_MESSAGE):
            batch = names[start : start + NAMES_PER_MESSAGE]
            reply = await self._socket.request({"method": method, "params": batch})
            if isinstance(reply, dict) and "code" in reply:
                raise ExchangeError(
                    status=400, code=reply.get("code"),
                    msg=f"{method} {', '.join(batch)[:200]} refused: {str(reply.get('msg', ''))[:200]}",
                    hint="Check the stream names (e.g. btcusdt@trade); streams already open are not affected.",
                )
            if method == "SUBSCRIBE":
                self._live.update(batch)
            else:
                self._live.difference_update(batch)

    async def _resubscribe(self) -> None:
        """The socket's ``on_open``: subscribe again to every stream in use (``add`` sends new ones)."""
        self._live.clear()
        names = [name for name in self._counts if name not in self._adding]
        if names:
            await self._command("SUBSCRIBE", names)
        for subscription in self._routed():
            subscription.gap()  # back: events from while it was down may be missing

    def _on_drop(self) -> None:
        self._live.clear()
        for subscription in self._routed():
            subscription.lost()

    def _routed(self) -> set[Subscription]:
        return {s for routed in self._subscriptions.values() for s in routed}

    def _on_message(self, message: Any) -> None:
        if not isinstance(message, dict) or "stream" not in message:
            return
        routed = self._subscriptions.get(message["stream"]) if isinstance(message["stream"], str) else None
        if routed:
            data = message.get("data")
            size = len(dumps(data))  # once, for every subscription it goes to
            for subscription in routed:
                subscription.push(message["stream"], data, size)
