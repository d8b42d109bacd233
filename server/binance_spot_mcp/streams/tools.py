"""The ``streams`` toolset: live market data and order events, all read-only.

* ``subscribe_stream``   market streams of an environment, or an account's user data events
* ``read_stream``        what arrived since a cursor; waits (long poll) up to ``MAX_WAIT_S``
* ``unsubscribe_stream`` / ``list_streams``
* ``wait_for_order``     one call that returns when an order fills (or ends, or changes): from the
                         user data stream when it is ready within half the wait (at most
                         ``STREAM_SETUP_S``), else by polling ``get_order`` through the rate
                         limiter. The answer names its source. An event never settles the
                         answer alone: before one is reported as reached (or as the order's end),
                         ``get_order`` is asked, and its answer is the one reported
                         (``confirmed_by``); when REST disagrees, the wait goes on. A paper
                         account's events come from the paper desk (``paper``), the same way.

Waits are bounded so a call always returns before a host's request timeout; an unfinished wait
says so and the assistant simply calls again. ``wait_for_order`` answers at most
``FINAL_CHECK_S`` after its ``wait_seconds``: every step waits for the deadline at most, and a
``get_order`` look-up still unanswered that long after it is given up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from mcp.types import CallToolResult, Tool, ToolAnnotations

from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.accounts.store import AccountStore, market_data_source
from binance_spot_mcp.catalog.endpoints import Catalog
from binance_spot_mcp.catalog.schema import optional_string
from binance_spot_mcp.config import ENVIRONMENTS, Settings
from binance_spot_mcp.errors import BinanceSpotError, ToolInputError, TransportError
from binance_spot_mcp.exchange.client import BinanceClient
from binance_spot_mcp.policy import is_symbol, spelled_symbol
from binance_spot_mcp.streams.labels import label_event
from binance_spot_mcp.redact import Redactor
from binance_spot_mcp.results import failure, success
from binance_spot_mcp.streams.buffers import (
    DEFAULT_BUFFER_EVENTS,
    DEFAULT_READ_LIMIT,
    MAX_BUFFER_EVENTS,
    MAX_READ_LIMIT,
    USER_EVENTS,
    market_stream_name,
    user_event_names,
)
from binance_spot_mcp.streams.hub import StreamHub
from binance_spot_mcp.streams.user import TERMINAL_STATUSES, OrderWatch

logger = logging.getLogger(__name__)

SUBSCRIBE_STREAM, READ_STREAM, UNSUBSCRIBE_STREAM = "subscribe_stream", "read_stream", "unsubscribe_stream"
LIST_STREAMS, WAIT_FOR_ORDER = "list_streams", "wait_for_order"
MAX_WAIT_S = 50  # seconds; below the usual 60 s request timeout of MCP hosts
DEFAULT_ORDER_WAIT_S = 30.0
REST_POLL_DELAYS_S = (1.0, 2.0, 3.0, 5.0)  # then every 5 s; each poll is one get_order (weight 4)
READ_ENVELOPE_CHARS = 600  # room in a read_stream result for everything but its events and snapshots
STREAM_CHECK_S = 2.0  # how often a stream wait checks that the connection is still up
STREAM_SETUP_S = 10.0  # the most of a wait spent on starting the user data stream; REST polls use the rest
FINAL_CHECK_S = 5.0  # a wait_for_order call ends at most this long after its wait_seconds (a last get_order)
UNTIL = ("FILLED", "TERMINAL", "CHANGE")
ORDER_FIELDS = ("symbol", "orderId", "clientOrderId", "side", "type", "status", "price", "origQty",
                "executedQty", "cummulativeQuoteQty", "updateTime")
_EVENT_FIELDS = {"s": "symbol", "i": "orderId", "c": "clientOrderId", "S": "side", "o": "type", "X": "status",
                 "p": "price", "q": "origQty", "z": "executedQty", "Z": "cummulativeQuoteQty", "T": "updateTime"}

_READ = ToolAnnotations(read_only_hint=True)
_WAIT = {"type": "number", "minimum": 0, "maximum": MAX_WAIT_S}
_SUB_ID = {"type": "string"}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


TOOLS = [
    Tool(
        name=SUBSCRIBE_STREAM,
        title="Subscribe to streams",
        description="Subscribe to market streams or an account's order events.",
        input_schema=_object(
            {
                "streams": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "e.g. btcusdt@trade; with account: executionReport",
                },
                "account": {"type": "string"},
                "environment": {"type": "string", "enum": list(ENVIRONMENTS)},
                "buffer": {"type": "integer", "minimum": 1, "maximum": MAX_BUFFER_EVENTS},
            }
        ),
        annotations=_READ,
    ),
    Tool(
        name=READ_STREAM,
        title="Read a stream",
        description="Read events after cursor; wait_seconds waits for one.",
        input_schema=_object(
            {
                "subscription": _SUB_ID,
                "cursor": {"type": "integer", "minimum": 0, "description": "Last next_cursor"},
                "wait_seconds": _WAIT,
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_READ_LIMIT},
                "raw": {"type": "boolean"},  # Binance's one-letter keys instead of full names (SKILL.md says so)
            },
            ["subscription"],
        ),
        annotations=_READ,
    ),
    Tool(
        name=UNSUBSCRIBE_STREAM,
        title="Unsubscribe a stream",
        description="Close a stream subscription.",
        input_schema=_object({"subscription": _SUB_ID}, ["subscription"]),
        annotations=_READ,
    ),
    Tool(
        name=LIST_STREAMS,
        title="List streams",
        description="List open stream subscriptions.",
        input_schema=_object({}),
        annotations=_READ,
    ),
    Tool(
        name=WAIT_FOR_ORDER,
        title="Wait for an order",
        description="Wait until an order fills (or ends, or changes), instead of polling.",
        input_schema=_object(
            {
                "account": {"type": "string"},
                "symbol": {"type": "string"},
                "orderId": {"type": "integer"},
                "origClientOrderId": {"type": "string"},
                "until": {"type": "string", "enum": list(UNTIL), "description": "Default FILLED"},
                "wait_seconds": {**_WAIT, "description": f"Default {DEFAULT_ORDER_WAIT_S:.0f}"},
            },
            ["symbol"],
        ),
        annotations=_READ,
    ),
]
NAMES = frozenset(t.name for t in TOOLS)


def compact_order(data: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that say where an order stands, from a get_order reply."""
    return {k: data[k] for k in ORDER_FIELDS if k in data}


def order_from_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """The same fields from an ``executionReport`` (its original client id when it is a cancel).
    Only plain values are taken: a field that is a list or an object (a broken or hostile event)
    is left out rather than trip a comparison later."""
    out = {name: event[key] for key, name in _EVENT_FIELDS.items() if key in event and _plain(event[key])}
    if event.get("C") and _plain(event["C"]):
        out["clientOrderId"] = event["C"]
    return out


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float)


def _qty(order: Mapping[str, Any]) -> Decimal:
    try:
        return Decimal(str(order.get("executedQty", "0")))
    except InvalidOperation:
        return Decimal(0)


def reached(order: Mapping[str, Any], baseline: Mapping[str, Any], until: str) -> bool:
    status = order.get("status")
    if until == "FILLED":
        return status == "FILLED"
    if until == "TERMINAL":
        return status in TERMINAL_STATUSES
    return (status, _qty(order)) != (baseline.get("status"), _qty(baseline))


def _settles(order: Mapping[str, Any], baseline: Mapping[str, Any], until: str) -> bool:
    """The wait is over: ``until`` is reached, or the order has ended."""
    return reached(order, baseline, until) or order.get("status") in TERMINAL_STATUSES


def _older(event_order: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """An event that describes an earlier state than the one already known (it crossed the REST reply)."""
    if _qty(event_order) < _qty(current):
        return True
    if current.get("status") in TERMINAL_STATUSES and event_order.get("status") not in TERMINAL_STATUSES:
        return True
    return False


def _int_arg(args: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = args.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ToolInputError(f"'{name}' must be a whole number from {low} to {high}", parameter=name)
    return value


def _wait_arg(args: Mapping[str, Any], default: float) -> float:
    value = args.get("wait_seconds", default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_WAIT_S:
        raise ToolInputError(f"'wait_seconds' must be a number from 0 to {MAX_WAIT_S:.0f}", parameter="wait_seconds")
    return float(value)


class StreamTools:
    """Handlers of the streams toolset, sharing the server's accounts, client and redactor."""

    def __init__(
        self,
        settings: Settings,
        accounts: AccountStore,
        client: BinanceClient,
        catalog: Catalog,
        redactor: Redactor,
        **socket_options: Any,
    ) -> None:
        self._settings = settings
        self._accounts = accounts
        self._client = client
        self._catalog = catalog
        self._redactor = redactor
        self.hub = StreamHub(settings, client, **socket_options)
        self.rest_poll_delays_s = REST_POLL_DELAYS_S
        self.final_check_s = FINAL_CHECK_S

    async def aclose(self) -> None:
        await self.hub.aclose()

    async def call(self, name: str, arguments: Mapping[str, Any] | None, *, session: str | None = None) -> CallToolResult:
        """Run one stream tool for the MCP ``session`` (None where the transport has none): its
        subscriptions are its own, invisible to every other session."""
        args, owner = dict(arguments or {}), session or ""
        try:
            allowed = set(next(t for t in TOOLS if t.name == name).input_schema["properties"])
            unknown = sorted(set(args) - allowed)
            if unknown:
                raise ToolInputError(f"unknown parameter(s): {', '.join(unknown)}", parameter=unknown[0])
            if name != WAIT_FOR_ORDER:  # its time is bounded; the background sweep covers it
                await self.hub.sweep()
            if name == SUBSCRIBE_STREAM:
                data: Any = await self._subscribe(args, owner)
            elif name == READ_STREAM:
                data = await self._read(args, owner)
            elif name == UNSUBSCRIBE_STREAM:
                subscription = await self.hub.unsubscribe(self._subscription_arg(args), owner=owner)
                data = {"unsubscribed": subscription.id, "streams": list(subscription.streams)}
            elif name == LIST_STREAMS:
                data = self.hub.describe(owner)
            else:
                data = await self._wait_for_order(args)
            return success(data, redactor=self._redactor, max_chars=self._settings.max_result_chars,
                           hint="Read more often, or pass a smaller limit.")
        except BinanceSpotError as exc:
            logger.info("%s failed: %s", name, exc.message)
            return failure(exc, redactor=self._redactor)
        except Exception as exc:  # noqa: BLE001 - the boundary
            logger.exception("internal error in %s", name)
            error = BinanceSpotError(f"internal error: {type(exc).__name__}", hint="This is a bug; please report it.")
            return failure(error, redactor=self._redactor)

    @staticmethod
    def _subscription_arg(args: Mapping[str, Any]) -> str:
        value = optional_string(args, "subscription")
        if value is None:
            raise ToolInputError("missing required parameter: subscription", parameter="subscription")
        return value

    async def _subscribe(self, args: Mapping[str, Any], owner: str) -> dict[str, Any]:
        account_name, environment = optional_string(args, "account"), optional_string(args, "environment")
        if account_name and environment:
            raise ToolInputError("give either 'account' or 'environment', not both", parameter="environment")
        if environment is not None and environment not in ENVIRONMENTS:
            raise ToolInputError(f"'environment' must be one of {', '.join(ENVIRONMENTS)}", parameter="environment")
        raw = args.get("streams")
        if raw is None and account_name is None:
            raise ToolInputError("give 'streams' (e.g. [\"btcusdt@trade\"])", parameter="streams")
        if raw is not None and (not isinstance(raw, list) or not all(isinstance(s, str) for s in raw)):
            raise ToolInputError("'streams' must be a list of stream names", parameter="streams")
        capacity = _int_arg(args, "buffer", DEFAULT_BUFFER_EVENTS, 1, MAX_BUFFER_EVENTS)
        names = [s.strip() for s in raw or []]
        if account_name is not None and all(n in USER_EVENTS for n in names):
            account = self._accounts.resolve(account_name)
            events = user_event_names(names) if names else USER_EVENTS
            subscription = await self.hub.subscribe_account(account, events, capacity, owner)
        else:
            streams = tuple(dict.fromkeys(market_stream_name(n) for n in names))
            source = market_data_source(self._accounts, account=account_name, environment=environment)
            subscription = await self.hub.subscribe_market(source.environment, streams, capacity, owner)
        return {
            "subscription": subscription.id,
            "scope": subscription.scope,
            "streams": list(subscription.streams),
            "next_cursor": subscription.seq,
            "idle_expiry_seconds": self._settings.stream_idle_s,
            "next_step": f"read_stream subscription={subscription.id} cursor={subscription.seq} wait_seconds=...",
        }

    async def _read(self, args: Mapping[str, Any], owner: str) -> dict[str, Any]:
        subscription = self.hub.get(self._subscription_arg(args), owner)
        cursor = args.get("cursor")
        if cursor is not None and (isinstance(cursor, bool) or not isinstance(cursor, int) or cursor < 0):
            raise ToolInputError("'cursor' must be a whole number (next_cursor of the last read)", parameter="cursor")
        limit = _int_arg(args, "limit", DEFAULT_READ_LIMIT, 1, MAX_READ_LIMIT)
        budget = self._settings.max_result_chars - READ_ENVELOPE_CHARS
        raw = args.get("raw", False)
        if not isinstance(raw, bool):
            raise ToolInputError("'raw' must be true or false", parameter="raw")
        return await subscription.read(cursor, wait_s=_wait_arg(args, 0.0), limit=limit, budget_chars=budget,
                                       shape=(lambda data: data) if raw else label_event)

    def order_seen(self, account: Account, tool: str, arguments: tuple[tuple[str, str], ...]) -> dict[str, Any] | None:
        """An order a ``get_order`` look-up would find, already known from the account's order events
        (None when the user data stream is not running or has not seen it)."""
        values = dict(arguments)
        symbol, client_id = values.get("symbol"), values.get("origClientOrderId")
        if tool != "get_order" or not symbol or not client_id:
            return None
        event = self.hub.recent_order(account, symbol, client_id)
        return order_from_event(event) if event is not None else None

    # -- wait_for_order -----------------------------------------------------------------------------

    async def _get_order(self, account: Account, symbol: str, order_id: int | None, client_id: str | None) -> dict[str, Any]:
        endpoint = self._catalog.get("get_order")
        assert endpoint is not None
        params = [("symbol", symbol)]
        if order_id is not None:
            params.append(("orderId", str(order_id)))
        else:
            assert client_id is not None
            params.append(("origClientOrderId", client_id))
        reply = await self._client.call(endpoint, params, base_url=account.base_url, account=account)
        return compact_order(reply.data if isinstance(reply.data, dict) else {})

    async def _look_up(
        self, account: Account, symbol: str, order_id: int | None, client_id: str | None, deadline: float
    ) -> dict[str, Any] | None:
        """``get_order``, or None when it has not answered ``final_check_s`` after the deadline."""
        try:
            async with asyncio.timeout(max(0.0, deadline + self.final_check_s - time.monotonic())):
                return await self._get_order(account, symbol, order_id, client_id)
        except TimeoutError:
            return None

    async def _wait_for_order(self, args: Mapping[str, Any]) -> dict[str, Any]:
        account = self._accounts.resolve(optional_string(args, "account"))
        symbol = spelled_symbol(optional_string(args, "symbol") or "")  # as REST tools read it: btc/usdt -> BTCUSDT
        if not symbol:
            raise ToolInputError("missing required parameter: symbol", parameter="symbol")
        if not is_symbol(symbol):
            raise ToolInputError("'symbol' is not a Binance symbol (1-20 letters, digits, '-', '_' or '.'; no spaces, "
                                 "control or invisible characters)", parameter="symbol")
        order_id = args.get("orderId")
        if order_id is not None and (isinstance(order_id, bool) or not isinstance(order_id, int)):
            raise ToolInputError("'orderId' must be a whole number", parameter="orderId")
        client_id = optional_string(args, "origClientOrderId")
        if order_id is None and client_id is None:
            raise ToolInputError("give orderId or origClientOrderId", parameter="orderId")
        until = (optional_string(args, "until") or "FILLED").upper()
        if until not in UNTIL:
            raise ToolInputError(f"'until' must be one of {', '.join(UNTIL)}", parameter="until")
        wait_s = _wait_arg(args, DEFAULT_ORDER_WAIT_S)
        started = time.monotonic()
        deadline = started + wait_s

        watch: OrderWatch | None = OrderWatch(symbol, order_id, client_id)
        stream_problem = None
        try:  # the stream gets half the wait at most; it keeps starting in the background for later calls
            await self.hub.watch_order(account, watch, timeout_s=min(wait_s / 2, STREAM_SETUP_S))
        except BinanceSpotError as exc:
            stream_problem, watch = exc.message, None
        try:
            baseline = await self._look_up(account, symbol, order_id, client_id, deadline)
            if baseline is None:
                raise TransportError(f"get_order did not answer within {wait_s + self.final_check_s:.0f} s", sent=True,
                                     hint="The read failed in transit; it is safe to call it again.")
            if watch is not None and watch.order_id is None and isinstance(baseline.get("orderId"), int):
                watch.order_id = baseline["orderId"]
            order, source, done = baseline, "get_order", reached(baseline, baseline, until)
            if not done:
                order, source, done = await self._follow(account, watch, symbol, baseline, until, deadline)
        finally:
            if watch is not None:
                self.hub.unwatch_order(account, watch)
        out: dict[str, Any] = {"reached": done, "until": until, "order": order, "source": source,
                               "waited_seconds": round(time.monotonic() - started, 2)}
        status = order.get("status")
        if source == "user_data_stream" and (done or status in TERMINAL_STATUSES):
            out["confirmed_by"] = "get_order"  # the event was checked before it was believed
        if not done and status in TERMINAL_STATUSES:
            out["note"] = f"The order ended as {status}; it will not reach {until}."
        elif not done:
            out["hint"] = "Not yet. Call wait_for_order again to keep waiting, or tell the user where it stands."
        if stream_problem:
            out["stream_unavailable"] = stream_problem
        return out

    async def _follow(
        self, account: Account, watch: OrderWatch | None, symbol: str, baseline: dict[str, Any], until: str, deadline: float
    ) -> tuple[dict[str, Any], str, bool]:
        """Follow the order until ``until`` or the deadline: events while the stream flows, REST polls
        otherwise (an event arriving between polls is taken at once). A look-up follows every gap in
        the events, and one more comes at the deadline after a wait on the stream, since events may
        have been missed."""
        current, source = baseline, "get_order"
        order_id = baseline.get("orderId") if isinstance(baseline.get("orderId"), int) else None
        client_id = baseline.get("clientOrderId")
        polls, on_stream = 0, False
        while (left := deadline - time.monotonic()) > 0:
            update: dict[str, Any] | None
            on_stream = watch is not None and self.hub.user_ready(account)
            if watch is not None and on_stream and watch.missed:  # flowing again after a gap: catch up
                watch.missed = False
                update, source = await self._look_up(account, symbol, order_id, client_id, deadline), "get_order"
            else:
                delay = STREAM_CHECK_S if on_stream else self.rest_poll_delays_s[min(polls, len(self.rest_poll_delays_s) - 1)]
                event = await _next_event(watch, min(left, delay))
                if event is not None:
                    update, source = order_from_event(event), "user_data_stream"
                    if _older(update, current):
                        continue
                elif on_stream:
                    continue
                else:
                    polls += 1
                    update, source = await self._look_up(account, symbol, order_id, client_id, deadline), "rest_polling"
            if update is None:  # the look-up did not answer in time
                return current, source, False
            candidate = {**current, **update}
            if source == "user_data_stream" and _settles(candidate, baseline, until):
                # the stream can be wrong or forged: REST has the last word on where the order stands
                confirmed = await self._look_up(account, symbol, order_id, client_id, deadline)
                if confirmed is None:
                    return current, "get_order", False
                if not _settles({**current, **confirmed}, baseline, until):
                    logger.warning("wait_for_order: an event said %s, get_order says %s; waiting on",
                                   str(candidate.get("status"))[:20], str(confirmed.get("status"))[:20])
                    current = {**current, **confirmed}
                    continue
                candidate = {**current, **confirmed}
            current = candidate
            if _settles(current, baseline, until):
                return current, source, reached(current, baseline, until)
        if on_stream:
            final = await self._look_up(account, symbol, order_id, client_id, deadline)
            if final is not None:
                return final, "get_order", reached(final, baseline, until)
        return current, source, False


async def _next_event(watch: OrderWatch | None, timeout_s: float) -> dict[str, Any] | None:
    """The watch's next event within ``timeout_s`` (None after it; a plain pause without a watch)."""
    if watch is None:
        await asyncio.sleep(timeout_s)
        return None
    try:
        return await asyncio.wait_for(watch.events.get(), timeout_s)
    except TimeoutError:
        return None
