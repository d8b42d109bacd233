"""The ``streams`` toolset's handlers, in process: ``StreamTools`` over a stand-in hub and a
scripted ``get_order`` (what each tool checks, passes on and answers; how ``wait_for_order``
follows an order).

* arguments are checked before anything is opened, with messages that name the parameter;
* every tool but ``wait_for_order`` sweeps idle subscriptions first; results pass the redactor
  and the size cap, errors come back as tool errors, a crash as "internal error" without detail;
* ``wait_for_order`` gives the stream half its wait (at most ``STREAM_SETUP_S``), else polls
  ``get_order`` on the poll schedule; an event is believed only once ``get_order`` agrees; an
  older event is skipped; a gap in the events brings a look-up; a look-up that does not answer
  ends the wait ``final_check_s`` after it; the answer says where the order stands and why.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.errors import AccountError, ToolInputError, TransportError
from binance_spot_mcp.server import Runtime
from binance_spot_mcp.streams import tools as tools_module
from binance_spot_mcp.streams.buffers import USER_EVENTS, Subscription
from binance_spot_mcp.streams.labels import label_event
from binance_spot_mcp.streams.tools import (
    READ_ENVELOPE_CHARS,
    TOOLS,
    StreamTools,
    _int_arg,
    _next_event,
    _object,
    _older,
    _plain,
    _qty,
    _settles,
    _wait_arg,
    compact_order,
    order_from_event,
    reached,
)
from binance_spot_mcp.streams.user import OrderWatch

from tests.e2e_support import loopback_environ, random_token

pytestmark = pytest.mark.anyio
BOUND_S = 10.0
BASE_URL = "http://127.0.0.1:9"


class FakeHub:
    """Stands in for ``StreamHub``: records what the tools ask of it."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.ready = True
        self.watch_error: Exception | None = None
        self.watches: list[OrderWatch] = []
        self.unwatched: list[OrderWatch] = []
        self.recent: dict[tuple[str, str], dict[str, Any]] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.closed = False

    async def sweep(self) -> list[str]:
        self.calls.append(("sweep",))
        return []

    async def watch_order(self, account: Account, watch: OrderWatch, timeout_s: float) -> None:
        self.calls.append(("watch", account.name, timeout_s))
        if self.watch_error is not None:
            raise self.watch_error
        self.watches.append(watch)

    def unwatch_order(self, account: Account, watch: OrderWatch) -> None:
        if not isinstance(account, Account):
            raise TypeError(f"unwatch_order asked for {account!r}")
        self.unwatched.append(watch)

    def user_ready(self, account: Account) -> bool:
        if not isinstance(account, Account):
            raise TypeError(f"user_ready asked for {account!r}")
        return self.ready

    def recent_order(self, account: Account, symbol: str, client_id: str) -> dict[str, Any] | None:
        self.calls.append(("recent", account.name, symbol, client_id))
        return self.recent.get((symbol, client_id))

    def _new(self, streams: tuple[str, ...], environment: str, account: str | None, capacity: int) -> Subscription:
        subscription = Subscription(f"s_{len(self.subscriptions)}", streams, environment, account, capacity)
        subscription.seq = 3
        self.subscriptions[subscription.id] = subscription
        return subscription

    async def subscribe_account(self, account: Account, events: tuple[str, ...], capacity: int, owner: str) -> Subscription:
        self.calls.append(("account", account.name, events, capacity, owner))
        return self._new(events, account.environment, account.name, capacity)

    async def subscribe_market(self, environment: str, streams: tuple[str, ...], capacity: int, owner: str) -> Subscription:
        self.calls.append(("market", environment, streams, capacity, owner))
        return self._new(streams, environment, None, capacity)

    def get(self, subscription_id: str, owner: str) -> Subscription:
        self.calls.append(("get", subscription_id, owner))
        if subscription_id not in self.subscriptions:
            raise ToolInputError(f"no open subscription '{subscription_id}'", parameter="subscription")
        return self.subscriptions[subscription_id]

    async def unsubscribe(self, subscription_id: str, owner: str) -> Subscription:
        self.calls.append(("unsubscribe", subscription_id, owner))
        return self.subscriptions.pop(subscription_id)

    def describe(self, owner: str) -> dict[str, Any]:
        self.calls.append(("describe", owner))
        return {"subscriptions": [], "owner": owner}

    async def aclose(self) -> None:
        self.closed = True


class Orders:
    """A scripted ``get_order`` of ``account``'s order: answers from ``states`` in turn (the last
    one repeats); ``hang`` makes it never answer. A look-up for another account or symbol fails."""

    def __init__(self, *states: dict[str, Any], account: str = "main") -> None:
        self.states = list(states)
        self.account = account
        self.calls: list[tuple[str, int | None, str | None]] = []
        self.hang = False
        self.delay_s = 0.0

    async def __call__(self, account: Account, symbol: str, order_id: int | None, client_id: str | None) -> dict[str, Any]:
        if account.name != self.account or symbol != "BTCUSDT":
            raise AssertionError(f"get_order for {account.name} {symbol!r}")
        self.calls.append((symbol, order_id, client_id))
        if self.hang:
            await asyncio.Event().wait()
        await asyncio.sleep(self.delay_s)
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"symbol": symbol, "orderId": 7, "clientOrderId": "web_1", **state}


NEW = {"status": "NEW", "executedQty": "0"}
BY_ID, LATER = ("BTCUSDT", 7, None), ("BTCUSDT", 7, "web_1")  # the first look-up, and those that follow it
PARTIAL = {"status": "PARTIALLY_FILLED", "executedQty": "0.5"}
FILLED = {"status": "FILLED", "executedQty": "1"}
CANCELED = {"status": "CANCELED", "executedQty": "0"}


def _entry(name: str, environment: str) -> str:
    return (f"### {name}\n- API Key: {random_token()}\n- Secret: {random_token()}\n- Environment: {environment}\n"
            f"- Base URL: {BASE_URL}\n")


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    """HMAC accounts main and rsa (testnet) and ed (demo); nothing listens at their base URL:
    every call that would reach it is replaced."""
    tools_file = tmp_path / "TOOLS.md"
    tools_file.write_text("## Binance Accounts\n\n" + "\n".join(
        _entry(name, env) for name, env in (("main", "testnet"), ("rsa", "testnet"), ("ed", "demo"))))
    os.chmod(tools_file, 0o600)
    yield Runtime(settings=load_settings(tools_file=str(tools_file), environ=loopback_environ(BASE_URL, tmp_path)))


@pytest.fixture
def tools(runtime: Runtime) -> StreamTools:
    tools = runtime.stream_tools
    tools.hub = FakeHub()  # type: ignore[assignment]
    tools.rest_poll_delays_s = (0.01,)
    return tools


def _hub(tools: StreamTools) -> FakeHub:
    assert isinstance(tools.hub, FakeHub)
    return tools.hub


async def _call(tools: StreamTools, name: str, args: dict[str, Any], session: str | None = None) -> tuple[bool, Any]:
    with anyio.fail_after(BOUND_S):
        result = await tools.call(name, args, session=session)
    return bool(result.is_error), json.loads(result.content[0].text)


def _report(**fields: Any) -> dict[str, Any]:
    return {"e": "executionReport", "s": "BTCUSDT", "i": 7, "c": "web_1", **fields}


# -- the small functions -----------------------------------------------------------------------------

def test_a_tool_schema_is_a_closed_object_naming_what_it_requires() -> None:
    properties = {"subscription": {"type": "string"}}
    assert _object(properties, ["subscription"]) == {"type": "object", "properties": properties,
                                                     "additionalProperties": False, "required": ["subscription"]}
    assert _object({}) == {"type": "object", "properties": {}, "additionalProperties": False}
    assert _object({}, []) == {"type": "object", "properties": {}, "additionalProperties": False}
    for tool in TOOLS:  # every stream tool refuses what it does not know, before the call reaches it
        assert tool.input_schema["additionalProperties"] is False and tool.input_schema["type"] == "object"


def test_compact_order_keeps_only_the_fields_that_say_where_an_order_stands() -> None:
    reply = {"symbol": "BTCUSDT", "orderId": 7, "clientOrderId": "c", "side": "BUY", "type": "LIMIT", "status": "NEW",
             "price": "1", "origQty": "2", "executedQty": "0", "cummulativeQuoteQty": "0", "updateTime": 5,
             "timeInForce": "GTC", "icebergQty": "0", "workingTime": 1}
    assert compact_order(reply) == {k: v for k, v in reply.items() if k not in ("timeInForce", "icebergQty", "workingTime")}
    assert compact_order({"status": "NEW"}) == {"status": "NEW"}


def test_an_event_is_read_as_an_order_with_plain_values_only() -> None:
    event = {"e": "executionReport", "s": "BTCUSDT", "i": 7, "c": "web_1", "S": "BUY", "o": "LIMIT", "X": "FILLED",
             "p": "1.5", "q": "2", "z": "2", "Z": "3", "T": 9, "x": "TRADE", "C": ""}
    assert order_from_event(event) == {"symbol": "BTCUSDT", "orderId": 7, "clientOrderId": "web_1", "side": "BUY",
                                       "type": "LIMIT", "status": "FILLED", "price": "1.5", "origQty": "2",
                                       "executedQty": "2", "cummulativeQuoteQty": "3", "updateTime": 9}
    assert order_from_event({**event, "c": "cancel_2", "C": "web_1"})["clientOrderId"] == "web_1"  # a cancel
    hostile = order_from_event({**event, "X": ["FILLED"], "z": {"a": 1}, "C": ["x"], "p": None, "q": 1.5})
    assert "status" not in hostile and "executedQty" not in hostile and hostile["clientOrderId"] == "web_1"
    assert hostile["price"] is None and hostile["origQty"] == 1.5


@pytest.mark.parametrize(("value", "plain"), [(None, True), ("a", True), (1, True), (1.5, True), (True, True),
                                              ([1], False), ({"a": 1}, False), ((1,), False), (b"x", False)],
                         ids=["none", "str", "int", "float", "bool", "list", "dict", "tuple", "bytes"])
def test_plain_values(value: Any, plain: bool) -> None:
    assert _plain(value) is plain


def test_executed_quantity_reads_as_a_decimal_and_anything_unreadable_as_zero() -> None:
    assert _qty({"executedQty": "0.50"}) == Decimal("0.5")
    assert _qty({"executedQty": 2}) == Decimal(2)
    assert _qty({}) == Decimal(0) and _qty({"executedQty": "lots"}) == Decimal(0)


@pytest.mark.parametrize(("order", "until", "expected"), [
    (FILLED, "FILLED", True), (PARTIAL, "FILLED", False), (CANCELED, "FILLED", False),
    (CANCELED, "TERMINAL", True), ({"status": "EXPIRED_IN_MATCH"}, "TERMINAL", True), (PARTIAL, "TERMINAL", False),
    (PARTIAL, "CHANGE", True), (NEW, "CHANGE", False), ({"status": "NEW", "executedQty": "0.1"}, "CHANGE", True),
    ({"status": "PENDING_NEW", "executedQty": "0"}, "CHANGE", True),
], ids=["filled", "partial-not-filled", "canceled-not-filled", "canceled-terminal", "expired-in-match", "partial-not-terminal",
        "partial-change", "no-change", "qty-change", "status-change"])
def test_when_a_wait_is_reached(order: dict[str, Any], until: str, expected: bool) -> None:
    assert reached(order, NEW, until) is expected


def test_an_order_that_ended_settles_every_wait() -> None:
    assert _settles(CANCELED, NEW, "FILLED") and _settles(FILLED, NEW, "CHANGE") and not _settles(PARTIAL, NEW, "FILLED")
    assert _settles(PARTIAL, NEW, "CHANGE")


def test_an_older_event_is_one_with_less_filled_or_open_after_the_end() -> None:
    assert _older(NEW, PARTIAL) and _older({"status": "PARTIALLY_FILLED", "executedQty": "0.5"}, {**CANCELED, "executedQty": "0.5"})
    assert not _older(PARTIAL, PARTIAL) and not _older(FILLED, PARTIAL) and not _older(CANCELED, CANCELED)
    assert not _older(PARTIAL, NEW)


def test_whole_number_arguments_are_bounded_and_named() -> None:
    assert _int_arg({}, "buffer", 200, 1, 1000) == 200
    assert _int_arg({"buffer": 1}, "buffer", 200, 1, 1000) == 1 and _int_arg({"buffer": 1000}, "buffer", 200, 1, 1000) == 1000
    for bad in (0, 1001, True, 5.0, "5", None):
        with pytest.raises(ToolInputError) as refused:
            _int_arg({"buffer": bad}, "buffer", 200, 1, 1000)
        assert refused.value.message == "'buffer' must be a whole number from 1 to 1000" and refused.value.parameter == "buffer"


def test_wait_seconds_is_a_number_from_0_to_50() -> None:
    assert _wait_arg({}, 30.0) == 30.0 and _wait_arg({"wait_seconds": 0}, 30.0) == 0.0
    assert _wait_arg({"wait_seconds": 50}, 1.0) == 50.0 and _wait_arg({"wait_seconds": 2.5}, 1.0) == 2.5
    assert isinstance(_wait_arg({"wait_seconds": 3}, 1.0), float)
    for bad in (-0.01, 50.01, True, "3", None):
        with pytest.raises(ToolInputError) as refused:
            _wait_arg({"wait_seconds": bad}, 1.0)
        assert refused.value.message == "'wait_seconds' must be a number from 0 to 50"
        assert refused.value.parameter == "wait_seconds"


async def test_the_next_event_comes_from_the_watch_or_nothing_after_the_pause() -> None:
    watch = OrderWatch("BTCUSDT", 7, None)
    watch.events.put_nowait({"n": 1})
    with anyio.fail_after(BOUND_S):
        assert await _next_event(watch, 5.0) == {"n": 1}
        assert await _next_event(watch, 0.01) is None
        started = time.monotonic()
        assert await _next_event(None, 0.05) is None
    assert time.monotonic() - started >= 0.04  # without a watch it is a plain pause


# -- call: the boundary --------------------------------------------------------------------------------

async def test_unknown_parameters_are_refused_by_name(tools: StreamTools) -> None:
    error, body = await _call(tools, "read_stream", {"subscription": "s_0", "zz": 1, "ab": 2})
    assert error and body["error"] == "invalid_arguments"
    assert body["message"] == "unknown parameter(s): ab, zz" and body["parameter"] == "ab"
    assert _hub(tools).calls == []  # refused before anything else


async def test_every_tool_but_wait_for_order_sweeps_first(tools: StreamTools) -> None:
    hub = _hub(tools)
    await _call(tools, "list_streams", {}, session="sess")
    assert hub.calls == [("sweep",), ("describe", "sess")]
    hub.calls.clear()
    tools._get_order = Orders(FILLED)  # type: ignore[method-assign]
    await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "orderId": 7, "wait_seconds": 1})
    assert ("sweep",) not in hub.calls


async def test_list_and_unsubscribe_answer_for_the_callers_session(tools: StreamTools) -> None:
    hub = _hub(tools)
    error, body = await _call(tools, "list_streams", {})
    assert not error and body == {"subscriptions": [], "owner": ""}
    _, sub = await _call(tools, "subscribe_stream", {"streams": ["btcusdt@trade"], "environment": "testnet"}, "sess")
    error, body = await _call(tools, "unsubscribe_stream", {"subscription": sub["subscription"]}, "sess")
    assert not error and body == {"unsubscribed": sub["subscription"], "streams": ["btcusdt@trade"]}
    assert ("unsubscribe", sub["subscription"], "sess") in hub.calls
    error, body = await _call(tools, "unsubscribe_stream", {})
    assert error and body["message"] == "missing required parameter: subscription" and body["parameter"] == "subscription"


async def test_a_result_is_redacted_and_capped(tools: StreamTools, runtime: Runtime) -> None:
    secret = "Qw" + random_token(30)
    runtime.redactor.add_secret(secret)
    hub = _hub(tools)
    hub.describe = lambda owner: {"text": f"key {secret}", "pad": ["x" * 100] * 2000}  # type: ignore[method-assign]
    error, body = await _call(tools, "list_streams", {})
    text = json.dumps(body)
    assert not error and secret not in text and "***" in text
    assert len(text) <= runtime.settings.max_result_chars * 1.01
    assert body["_notice"]["hint"] == "Read more often, or pass a smaller limit."


async def test_a_tool_error_is_logged_and_answered_and_a_crash_says_only_internal_error(
        tools: StreamTools, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="binance_spot_mcp.streams.tools")
    hub = _hub(tools)

    def crash(owner: str) -> dict[str, Any]:
        raise ValueError("detail that must not leak")

    hub.describe = crash  # type: ignore[method-assign]
    error, body = await _call(tools, "list_streams", {})
    assert error and body == {"error": "error", "message": "internal error: ValueError",
                              "hint": "This is a bug; please report it."}
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == ["internal error in list_streams"]
    caplog.clear()
    error, body = await _call(tools, "read_stream", {"subscription": "nope"})
    assert error and body["message"] == "no open subscription 'nope'"
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        "read_stream failed: no open subscription 'nope'"]


async def test_closing_the_tools_closes_the_hub(tools: StreamTools) -> None:
    await tools.aclose()
    assert _hub(tools).closed


# -- subscribe_stream and read_stream --------------------------------------------------------------------

@pytest.mark.parametrize(("args", "message", "parameter"), [
    ({"account": "main", "environment": "testnet", "streams": ["executionReport"]},
     "give either 'account' or 'environment', not both", "environment"),
    ({"environment": "moon", "streams": ["btcusdt@trade"]}, "'environment' must be one of mainnet, testnet, demo",
     "environment"),
    ({"environment": "testnet"}, "give 'streams' (e.g. [\"btcusdt@trade\"])", "streams"),
    ({}, "give 'streams' (e.g. [\"btcusdt@trade\"])", "streams"),
    ({"streams": "btcusdt@trade"}, "'streams' must be a list of stream names", "streams"),
    ({"streams": ["btcusdt@trade", 5]}, "'streams' must be a list of stream names", "streams"),
    ({"streams": ["btcusdt@trade"], "buffer": 0}, "'buffer' must be a whole number from 1 to 1000", "buffer"),
], ids=["both", "environment", "no-streams", "nothing", "streams-text", "streams-number", "buffer"])
async def test_subscribe_checks_its_arguments(tools: StreamTools, args: dict[str, Any], message: str, parameter: str) -> None:
    error, body = await _call(tools, "subscribe_stream", args)
    assert error and body["message"] == message and body["parameter"] == parameter
    assert [c for c in _hub(tools).calls if c[0] in ("market", "account")] == []


async def test_market_streams_are_subscribed_by_their_binance_names_once_each(tools: StreamTools, runtime: Runtime) -> None:
    error, body = await _call(tools, "subscribe_stream", {"streams": [" BTCUSDT@trade", "btcusdt@trade", "ethusdt@depth5"],
                                                         "environment": "demo", "buffer": 10}, "sess")
    assert not error
    assert _hub(tools).calls[-1] == ("market", "demo", ("btcusdt@trade", "ethusdt@depth5"), 10, "sess")
    assert body == {"subscription": "s_0", "scope": "demo market", "streams": ["btcusdt@trade", "ethusdt@depth5"],
                    "next_cursor": 3, "idle_expiry_seconds": runtime.settings.stream_idle_s,
                    "next_step": "read_stream subscription=s_0 cursor=3 wait_seconds=..."}


async def test_market_streams_follow_the_named_account_or_main(tools: StreamTools) -> None:
    await _call(tools, "subscribe_stream", {"streams": ["btcusdt@trade"], "account": "ed"})  # ed is a demo account
    await _call(tools, "subscribe_stream", {"streams": ["btcusdt@trade"]})  # main: testnet
    markets = [c for c in _hub(tools).calls if c[0] == "market"]
    assert [(c[1], c[3]) for c in markets] == [("demo", 200), ("testnet", 200)]


async def test_an_accounts_events_are_subscribed_all_or_the_named_ones(tools: StreamTools) -> None:
    await _call(tools, "subscribe_stream", {"account": "rsa"}, "sess")
    await _call(tools, "subscribe_stream", {"account": "main", "streams": [" balanceUpdate", "executionReport",
                                                                          "balanceUpdate"], "buffer": 5})
    accounts = [c for c in _hub(tools).calls if c[0] == "account"]
    assert accounts == [("account", "rsa", USER_EVENTS, 200, "sess"),
                        ("account", "main", ("balanceUpdate", "executionReport"), 5, "")]
    error, body = await _call(tools, "subscribe_stream", {"account": "nobody"})
    assert error and body["error"] == "account_error"


async def test_read_checks_its_cursor_and_limit_and_leaves_room_for_the_envelope(tools: StreamTools, runtime: Runtime) -> None:
    hub = _hub(tools)
    _, sub = await _call(tools, "subscribe_stream", {"streams": ["btcusdt@trade"]}, "sess")
    for bad in (-1, True, "3", 1.5):
        error, body = await _call(tools, "read_stream", {"subscription": sub["subscription"], "cursor": bad}, "sess")
        assert error and body["message"] == "'cursor' must be a whole number (next_cursor of the last read)"
        assert body["parameter"] == "cursor"
    for bad in (0, 501):
        error, body = await _call(tools, "read_stream", {"subscription": sub["subscription"], "limit": bad}, "sess")
        assert error and body["message"] == "'limit' must be a whole number from 1 to 500" and body["parameter"] == "limit"
    seen: dict[str, Any] = {}
    subscription = hub.subscriptions[sub["subscription"]]

    async def read(cursor: int | None, *, wait_s: float, limit: int, budget_chars: int | None = None,
                   shape: Any = None) -> dict[str, Any]:
        seen.update(cursor=cursor, wait_s=wait_s, limit=limit, budget_chars=budget_chars, shape=shape)
        return {"events": []}

    subscription.read = read  # type: ignore[method-assign]
    error, body = await _call(tools, "read_stream", {"subscription": sub["subscription"]}, "sess")
    assert not error and body == {"events": []}
    assert seen == {"cursor": None, "wait_s": 0.0, "limit": 50,
                    "budget_chars": runtime.settings.max_result_chars - READ_ENVELOPE_CHARS, "shape": label_event}
    await _call(tools, "read_stream", {"subscription": sub["subscription"], "cursor": 0, "wait_seconds": 2, "limit": 500}, "sess")
    assert (seen["cursor"], seen["wait_s"], seen["limit"]) == (0, 2.0, 500)
    await _call(tools, "read_stream", {"subscription": sub["subscription"], "cursor": 4, "limit": 1}, "sess")
    assert (seen["cursor"], seen["limit"]) == (4, 1)
    assert ("get", sub["subscription"], "sess") in hub.calls


# -- order_seen ----------------------------------------------------------------------------------------

def test_order_seen_answers_a_get_order_by_client_id_from_the_events(tools: StreamTools, runtime: Runtime) -> None:
    hub, main = _hub(tools), runtime.accounts.resolve("main")
    hub.recent[("BTCUSDT", "web_1")] = _report(X="FILLED", C="")
    args = (("symbol", "BTCUSDT"), ("origClientOrderId", "web_1"))
    assert tools.order_seen(main, "get_order", args) == {"symbol": "BTCUSDT", "orderId": 7, "clientOrderId": "web_1",
                                                         "status": "FILLED"}
    assert hub.calls[-1] == ("recent", "main", "BTCUSDT", "web_1")
    assert tools.order_seen(main, "get_order", (("symbol", "BTCUSDT"), ("origClientOrderId", "other"))) is None
    hub.calls.clear()
    for tool, arguments in [("cancel_order", args), ("get_order", (("symbol", "BTCUSDT"),)),
                            ("get_order", (("origClientOrderId", "web_1"),)),
                            ("get_order", (("symbol", ""), ("origClientOrderId", "web_1"))),
                            ("get_order", (("symbol", "BTCUSDT"), ("origClientOrderId", "")))]:
        assert tools.order_seen(main, tool, arguments) is None
    assert hub.calls == []


# -- get_order ----------------------------------------------------------------------------------------

async def test_get_order_asks_by_order_id_or_client_id_with_the_accounts_base_url(tools: StreamTools, runtime: Runtime) -> None:
    main = runtime.accounts.resolve("main")
    sent: list[tuple[Any, ...]] = []

    reply = SimpleNamespace(data={"symbol": "BTCUSDT", "orderId": 7, "status": "NEW", "timeInForce": "GTC"})

    async def call(endpoint: Any, params: Any, *, base_url: str, account: Any) -> SimpleNamespace:
        sent.append((endpoint.tool, list(params), base_url, account))
        return reply

    tools._client.call = call  # type: ignore[method-assign]
    assert await tools._get_order(main, "BTCUSDT", 7, "ignored") == {"symbol": "BTCUSDT", "orderId": 7, "status": "NEW"}
    assert await tools._get_order(main, "BTCUSDT", None, "web_1") == {"symbol": "BTCUSDT", "orderId": 7, "status": "NEW"}
    assert sent == [("get_order", [("symbol", "BTCUSDT"), ("orderId", "7")], main.base_url, main),
                    ("get_order", [("symbol", "BTCUSDT"), ("origClientOrderId", "web_1")], main.base_url, main)]
    for data in (["not", "an", "object"], ["status"], "status: NEW", None):
        reply.data = data
        assert await tools._get_order(main, "BTCUSDT", 7, None) == {}


# -- wait_for_order: arguments ---------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "message", "parameter"), [
    ({"orderId": 7}, "missing required parameter: symbol", "symbol"),
    ({"symbol": "BTC USDT", "orderId": 7}, ("'symbol' is not a Binance symbol (1-20 letters, digits, '-', '_' or '.'; "
                                            "no spaces, control or invisible characters)"), "symbol"),
    ({"symbol": "BTCUSDT", "orderId": True}, "'orderId' must be a whole number", "orderId"),
    ({"symbol": "BTCUSDT", "orderId": "7"}, "'orderId' must be a whole number", "orderId"),
    ({"symbol": "BTCUSDT"}, "give orderId or origClientOrderId", "orderId"),
    ({"symbol": "BTCUSDT", "orderId": 7, "until": "DONE"}, "'until' must be one of FILLED, TERMINAL, CHANGE", "until"),
    ({"symbol": "BTCUSDT", "orderId": 7, "wait_seconds": 51}, "'wait_seconds' must be a number from 0 to 50",
     "wait_seconds"),
], ids=["no-symbol", "bad-symbol", "order-id-bool", "order-id-text", "no-ids", "until", "wait"])
async def test_wait_for_order_checks_its_arguments(tools: StreamTools, args: dict[str, Any], message: str, parameter: str) -> None:
    orders = Orders(NEW)
    tools._get_order = orders  # type: ignore[method-assign]
    error, body = await _call(tools, "wait_for_order", args)
    assert error and body["message"] == message and body["parameter"] == parameter
    assert orders.calls == [] and _hub(tools).calls == []


async def test_wait_for_order_reads_symbol_and_until_case_blind_and_uses_the_named_account(tools: StreamTools) -> None:
    orders = Orders(FILLED, account="rsa")
    tools._get_order = orders  # type: ignore[method-assign]
    error, body = await _call(tools, "wait_for_order", {"symbol": "btcusdt", "origClientOrderId": "web_1",
                                                        "until": "terminal", "account": "rsa", "wait_seconds": 1})
    assert not error and body["until"] == "TERMINAL" and body["reached"] is True
    assert orders.calls == [("BTCUSDT", None, "web_1")]
    assert _hub(tools).calls == [("watch", "rsa", 0.5)]
    watch = _hub(tools).watches[0]
    assert (watch.symbol, watch.client_id) == ("BTCUSDT", "web_1")


# -- wait_for_order: following the order -----------------------------------------------------------------

async def test_an_order_already_there_is_answered_from_the_first_look_up(tools: StreamTools) -> None:
    orders = Orders(FILLED)
    tools._get_order = orders  # type: ignore[method-assign]
    error, body = await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "orderId": 7})
    assert not error
    assert body["reached"] is True and body["source"] == "get_order" and body["until"] == "FILLED"
    assert body["order"] == {"symbol": "BTCUSDT", "orderId": 7, "clientOrderId": "web_1", **FILLED}
    assert "confirmed_by" not in body and "hint" not in body and "note" not in body and "stream_unavailable" not in body
    assert 0 <= body["waited_seconds"] < BOUND_S
    hub = _hub(tools)
    assert hub.calls == [("watch", "main", 10.0)]  # half of the default 30 s, at most STREAM_SETUP_S
    assert hub.unwatched == hub.watches and len(hub.watches) == 1
    watch = hub.watches[0]
    assert (watch.symbol, watch.order_id, watch.client_id) == ("BTCUSDT", 7, None)


async def test_the_stream_gets_half_a_short_wait(tools: StreamTools) -> None:
    tools._get_order = Orders(FILLED)  # type: ignore[method-assign]
    await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "orderId": 7, "wait_seconds": 4})
    assert _hub(tools).calls == [("watch", "main", 2.0)]


async def test_without_the_stream_get_order_is_polled_on_its_schedule(tools: StreamTools) -> None:
    hub = _hub(tools)
    hub.watch_error = TransportError("the user data stream at x was not ready within 1.0 s", sent=True)
    orders = Orders(NEW, NEW, NEW, NEW, NEW, FILLED)
    tools._get_order = orders  # type: ignore[method-assign]
    tools.rest_poll_delays_s = (0.01, 0.02, 0.03)  # the last delay repeats
    error, body = await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "orderId": 7, "wait_seconds": 5})
    assert not error and body["reached"] is True and body["source"] == "rest_polling"
    assert orders.calls == [BY_ID] + [LATER] * 5 and "confirmed_by" not in body
    assert body["stream_unavailable"] == "the user data stream at x was not ready within 1.0 s"
    assert hub.unwatched == []  # nothing was being watched


async def test_an_unfinished_wait_says_so_and_how_to_go_on(tools: StreamTools) -> None:
    hub = _hub(tools)
    hub.watch_error = TransportError("not ready", sent=True)
    tools._get_order = Orders(NEW, PARTIAL)  # type: ignore[method-assign]
    error, body = await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "orderId": 7, "wait_seconds": 0.205})
    assert not error and body["reached"] is False and body["order"]["status"] == "PARTIALLY_FILLED"
    waited = body["waited_seconds"]
    assert isinstance(waited, float) and 0.15 <= waited < BOUND_S and waited == round(waited, 2)
    assert body["hint"] == "Not yet. Call wait_for_order again to keep waiting, or tell the user where it stands."
    assert "note" not in body


async def test_an_order_that_ended_otherwise_is_reported_with_a_note(tools: StreamTools) -> None:
    _hub(tools).watch_error = TransportError("not ready", sent=True)
    orders = Orders(NEW, CANCELED)
    tools._get_order = orders  # type: ignore[method-assign]
    error, body = await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "orderId": 7, "wait_seconds": 5})
    assert not error and body["reached"] is False and body["order"]["status"] == "CANCELED"
    assert body["note"] == "The order ended as CANCELED; it will not reach FILLED." and "hint" not in body
    assert len(orders.calls) == 2  # it stopped at the end, not at the deadline


async def test_until_change_is_reached_by_a_partial_fill(tools: StreamTools) -> None:
    _hub(tools).watch_error = TransportError("not ready", sent=True)
    tools._get_order = Orders(NEW, NEW, PARTIAL)  # type: ignore[method-assign]
    error, body = await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "orderId": 7, "until": "CHANGE",
                                                        "wait_seconds": 5})
    assert not error and body["reached"] is True and body["order"]["executedQty"] == "0.5"


async def _stream_wait(tools: StreamTools, orders: Orders, events: list[dict[str, Any]], args: dict[str, Any]) -> Any:
    """wait_for_order on the stream; ``events`` are put on the watch once it is registered."""
    tools._get_order = orders  # type: ignore[method-assign]
    hub = _hub(tools)
    watching = len(hub.watches)

    async def feed() -> None:
        while len(hub.watches) == watching:
            await asyncio.sleep(0.001)
        while len(orders.calls) < 1:  # the baseline look-up first
            await asyncio.sleep(0.001)
        for event in events:
            hub.watches[-1].events.put_nowait(event)

    with anyio.fail_after(BOUND_S):
        task = asyncio.ensure_future(feed())
        error, body = await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "orderId": 7, **args})
        await task
    assert not error, body
    return body


async def test_an_event_is_reported_once_get_order_agrees(tools: StreamTools) -> None:
    orders = Orders(NEW, {**FILLED, "updateTime": 99})
    body = await _stream_wait(tools, orders, [_report(X="FILLED", z="1")], {"wait_seconds": 5})
    assert body["reached"] is True and body["source"] == "user_data_stream" and body["confirmed_by"] == "get_order"
    assert body["order"]["updateTime"] == 99 and orders.calls == [BY_ID, LATER]  # REST's answer is the one reported


async def test_an_event_get_order_contradicts_is_not_believed(tools: StreamTools, caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="binance_spot_mcp.streams.tools")
    orders = Orders(NEW, NEW, NEW)
    body = await _stream_wait(tools, orders, [_report(X="FILLED", z="1")], {"wait_seconds": 0.5})
    assert body["reached"] is False and body["order"]["status"] == "NEW" and body["source"] == "get_order"
    assert orders.calls == [BY_ID, LATER, LATER]  # baseline, the check of the event, the last look at the deadline
    assert "wait_for_order: an event said FILLED, get_order says NEW; waiting on" in caplog.text


async def test_a_partial_fill_event_does_not_end_a_wait_for_filled(tools: StreamTools) -> None:
    orders = Orders(NEW, PARTIAL)
    body = await _stream_wait(tools, orders, [_report(X="PARTIALLY_FILLED", z="0.5")], {"wait_seconds": 0.4})
    assert body["reached"] is False and body["order"]["status"] == "PARTIALLY_FILLED"
    assert len(orders.calls) == 2  # no check for an event that settles nothing; one last look at the deadline


async def test_an_end_event_confirmed_is_reported_with_its_note(tools: StreamTools) -> None:
    orders = Orders(NEW, CANCELED)
    body = await _stream_wait(tools, orders, [_report(X="CANCELED")], {"wait_seconds": 5})
    assert body["reached"] is False and body["source"] == "user_data_stream" and body["confirmed_by"] == "get_order"
    assert body["note"] == "The order ended as CANCELED; it will not reach FILLED."


async def test_an_event_older_than_what_is_known_is_skipped(tools: StreamTools) -> None:
    orders = Orders(PARTIAL, FILLED)
    body = await _stream_wait(tools, orders, [_report(X="NEW", z="0"), _report(X="FILLED", z="1")],
                              {"wait_seconds": 5, "until": "CHANGE"})
    assert body["reached"] is True and body["order"]["status"] == "FILLED"  # not NEW: that one was older


async def test_on_the_stream_nothing_is_polled_until_the_last_look(tools: StreamTools) -> None:
    orders = Orders(NEW, FILLED)
    body = await _stream_wait(tools, orders, [], {"wait_seconds": 0.3})
    assert orders.calls == [BY_ID, LATER]  # the baseline and the look at the deadline, no polls in between
    assert body["reached"] is True and body["source"] == "get_order" and "confirmed_by" not in body


async def test_a_last_look_that_does_not_answer_keeps_what_was_known(tools: StreamTools) -> None:
    orders = Orders(NEW)
    tools.final_check_s = 0.1

    async def hang_later() -> None:
        while len(orders.calls) < 1:
            await asyncio.sleep(0.001)
        orders.hang = True

    task = asyncio.ensure_future(hang_later())
    body = await _stream_wait(tools, orders, [], {"wait_seconds": 0.2})
    await task
    assert body["reached"] is False and body["order"]["status"] == "NEW" and len(orders.calls) == 2


async def test_after_a_gap_in_the_events_the_order_is_looked_up(tools: StreamTools) -> None:
    hub, orders = _hub(tools), Orders(NEW, FILLED)
    tools._get_order = orders  # type: ignore[method-assign]
    original = hub.watch_order

    async def watch_and_miss(account: Account, watch: OrderWatch, timeout_s: float) -> None:
        await original(account, watch, timeout_s)
        watch.missed = True

    hub.watch_order = watch_and_miss  # type: ignore[method-assign]
    with anyio.fail_after(2.0):  # no event comes: the look-up after the gap ends it
        error, body = await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "orderId": 7, "wait_seconds": 30})
    assert not error and body["reached"] is True and body["source"] == "get_order"
    assert orders.calls == [BY_ID, LATER] and hub.watches[0].missed is False


async def test_a_gap_seen_while_the_stream_is_down_waits_for_it_to_flow(tools: StreamTools) -> None:
    hub, orders = _hub(tools), Orders(NEW, FILLED)
    tools._get_order = orders  # type: ignore[method-assign]
    hub.ready = False
    tools.rest_poll_delays_s = (0.05,)
    original = hub.watch_order

    async def watch_and_miss(account: Account, watch: OrderWatch, timeout_s: float) -> None:
        await original(account, watch, timeout_s)
        watch.missed = True

    hub.watch_order = watch_and_miss  # type: ignore[method-assign]
    error, body = await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "orderId": 7, "wait_seconds": 5})
    assert not error and body["source"] == "rest_polling" and hub.watches[0].missed is True


async def test_a_baseline_look_up_that_does_not_answer_is_a_transport_error(tools: StreamTools) -> None:
    orders = Orders(NEW)
    orders.hang = True
    tools._get_order = orders  # type: ignore[method-assign]
    tools.final_check_s = 0.6
    error, body = await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "orderId": 7, "wait_seconds": 0})
    assert error and body["error"] == "transport_error" and body["message"] == "get_order did not answer within 1 s"
    assert body["hint"] == "The read failed in transit; it is safe to call it again."
    assert body["request_may_have_reached_binance"] is True
    assert _hub(tools).unwatched == _hub(tools).watches  # the watch is given back even then


async def test_a_look_up_by_client_id_learns_the_order_id_for_the_watch(tools: StreamTools) -> None:
    orders = Orders(NEW, FILLED)
    tools._get_order = orders  # type: ignore[method-assign]
    error, _ = await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "origClientOrderId": "web_1",
                                                        "wait_seconds": 0.2})
    assert not error and _hub(tools).watches[0].order_id == 7
    assert orders.calls[1] == ("BTCUSDT", 7, "web_1")  # later look-ups use the order id it learnt


async def test_an_account_problem_is_a_tool_error(tools: StreamTools) -> None:
    error, body = await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "orderId": 7, "account": "nobody"})
    assert error and body["error"] == AccountError.kind


async def test_a_wait_of_zero_seconds_answers_from_the_first_look_up(tools: StreamTools) -> None:
    orders = Orders(NEW, FILLED)
    tools._get_order = orders  # type: ignore[method-assign]
    error, body = await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "orderId": 7, "wait_seconds": 0})
    assert not error and body["reached"] is False and body["source"] == "get_order" and orders.calls == [BY_ID]
    assert _hub(tools).calls == [("watch", "main", 0.0)]


async def test_the_first_poll_comes_after_the_first_delay(tools: StreamTools) -> None:
    _hub(tools).watch_error = TransportError("not ready", sent=True)
    tools._get_order = Orders(NEW, FILLED)  # type: ignore[method-assign]
    tools.rest_poll_delays_s = (0.01, 30.0)
    with anyio.fail_after(3.0):  # the second delay would outlast this
        error, body = await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "orderId": 7, "wait_seconds": 20})
    assert not error and body["reached"] is True and body["source"] == "rest_polling"


async def test_an_order_id_from_rest_that_is_no_whole_number_is_not_used_for_look_ups(tools: StreamTools) -> None:
    _hub(tools).watch_error = TransportError("not ready", sent=True)
    orders = Orders({**NEW, "orderId": "7"}, {**FILLED, "orderId": "7"})
    tools._get_order = orders  # type: ignore[method-assign]
    error, body = await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "origClientOrderId": "web_1", "wait_seconds": 5})
    assert not error and body["reached"] is True
    assert orders.calls == [("BTCUSDT", None, "web_1"), ("BTCUSDT", None, "web_1")]


# -- pinned after the mutation run (issue 22) -------------------------------------------------------

class Pauses:
    """Replaces ``_next_event``: records each pause asked for and answers at once, from ``events``
    in turn (None when they run out)."""

    def __init__(self, *events: dict[str, Any] | None) -> None:
        self.events = list(events)
        self.asked: list[float] = []

    async def __call__(self, watch: OrderWatch | None, timeout_s: float) -> dict[str, Any] | None:
        self.asked.append(timeout_s)
        await asyncio.sleep(0)
        return self.events.pop(0) if self.events else None


async def test_polls_follow_the_schedule_and_its_last_delay_repeats(tools: StreamTools, monkeypatch: pytest.MonkeyPatch) -> None:
    pauses = Pauses()
    monkeypatch.setattr(tools_module, "_next_event", pauses)
    _hub(tools).watch_error = TransportError("not ready", sent=True)
    orders = Orders(NEW, NEW, NEW, NEW, FILLED)
    tools._get_order = orders  # type: ignore[method-assign]
    tools.rest_poll_delays_s = (0.01, 0.1, 0.4)
    error, body = await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "orderId": 7, "wait_seconds": 30})
    assert not error and body["reached"] is True and len(orders.calls) == 5
    assert pauses.asked == [0.01, 0.1, 0.4, 0.4]


async def test_on_the_stream_the_wait_checks_the_connection_every_stream_check(
        tools: StreamTools, monkeypatch: pytest.MonkeyPatch) -> None:
    """No event within a check: go on waiting on the stream (no poll, no early last look)."""
    pauses = Pauses(None, None, _report(X="FILLED", z="1"))
    monkeypatch.setattr(tools_module, "_next_event", pauses)
    orders = Orders(NEW, FILLED)
    tools._get_order = orders  # type: ignore[method-assign]
    error, body = await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "orderId": 7, "wait_seconds": 30})
    assert not error and body["reached"] is True and body["source"] == "user_data_stream"
    assert pauses.asked == [tools_module.STREAM_CHECK_S] * 3 and orders.calls == [BY_ID, LATER]


async def test_a_look_up_past_its_allowance_is_given_up_at_once(tools: StreamTools) -> None:
    orders = Orders(NEW)
    orders.hang = True
    tools._get_order = orders  # type: ignore[method-assign]
    tools.final_check_s = 0.0
    with anyio.fail_after(0.6):  # the deadline and the allowance are both spent: no more time is given
        error, body = await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "orderId": 7, "wait_seconds": 0})
    assert error and body["error"] == "transport_error"


async def test_a_poll_that_does_not_answer_ends_the_wait_unreached(tools: StreamTools) -> None:
    _hub(tools).watch_error = TransportError("not ready", sent=True)
    orders = Orders(NEW)
    tools._get_order = orders  # type: ignore[method-assign]
    tools.final_check_s = 0.05

    async def hang_later() -> None:
        while not orders.calls:
            await asyncio.sleep(0.001)
        orders.hang = True

    task = asyncio.ensure_future(hang_later())
    error, body = await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "orderId": 7, "wait_seconds": 0.2})
    await task
    assert not error and body["reached"] is False and body["order"]["status"] == "NEW"
    assert body["source"] == "rest_polling" and len(orders.calls) == 2


async def test_an_event_whose_check_does_not_answer_is_not_believed(tools: StreamTools) -> None:
    orders = Orders(NEW)
    tools.final_check_s = 0.05

    async def hang_later() -> None:
        while not orders.calls:
            await asyncio.sleep(0.001)
        orders.hang = True

    task = asyncio.ensure_future(hang_later())
    body = await _stream_wait(tools, orders, [_report(X="FILLED", z="1")], {"wait_seconds": 0.2})
    await task
    assert body["reached"] is False and body["order"]["status"] == "NEW" and body["source"] == "get_order"
    assert "confirmed_by" not in body and len(orders.calls) == 2


def _warnings(caplog: Any) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "binance_spot_mcp.streams.tools" and r.levelno == logging.WARNING]


async def test_an_event_rest_contradicts_is_logged_and_a_later_one_rest_confirms_is_reported(
        tools: StreamTools, caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="binance_spot_mcp.streams.tools")
    orders = Orders(NEW, PARTIAL, FILLED)
    body = await _stream_wait(tools, orders, [_report(X="FILLED", z="1"), _report(X="FILLED", z="1")],
                              {"wait_seconds": 5})
    assert _warnings(caplog) == ["wait_for_order: an event said FILLED, get_order says PARTIALLY_FILLED; waiting on"]
    assert body["reached"] is True and body["source"] == "user_data_stream" and body["confirmed_by"] == "get_order"
    assert orders.calls == [BY_ID, LATER, LATER]


async def test_the_contradiction_warning_shows_at_most_20_characters_of_each_status(
        tools: StreamTools, caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="binance_spot_mcp.streams.tools")
    orders = Orders(NEW, NEW)
    await _stream_wait(tools, orders, [_report(X="S" * 30)], {"wait_seconds": 0.2, "until": "CHANGE"})
    orders = Orders(NEW, {"status": "R" * 30})
    await _stream_wait(tools, orders, [_report(X="FILLED")], {"wait_seconds": 0.2})
    assert _warnings(caplog) == [f"wait_for_order: an event said {'S' * 20}, get_order says NEW; waiting on",
                                 f"wait_for_order: an event said FILLED, get_order says {'R' * 20}; waiting on"]


async def test_a_change_seen_by_the_last_look_on_the_stream_is_reached(tools: StreamTools) -> None:
    orders = Orders(NEW, PARTIAL)
    body = await _stream_wait(tools, orders, [], {"wait_seconds": 0.2, "until": "CHANGE"})
    assert body["reached"] is True and body["source"] == "get_order" and body["order"]["status"] == "PARTIALLY_FILLED"


async def test_an_older_event_is_skipped_and_the_wait_stays_on_the_stream(tools: StreamTools) -> None:
    orders = Orders(PARTIAL, FILLED)
    body = await _stream_wait(tools, orders, [_report(X="NEW", z="0"), _report(X="FILLED", z="1")],
                              {"wait_seconds": 5, "until": "CHANGE"})
    assert body["reached"] is True and body["source"] == "user_data_stream" and orders.calls == [BY_ID, LATER]


async def test_a_slow_look_up_within_its_allowance_is_waited_for(tools: StreamTools) -> None:
    orders = Orders(FILLED)
    orders.delay_s = 0.1
    tools._get_order = orders  # type: ignore[method-assign]
    tools.final_check_s = 5.0
    error, body = await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "orderId": 7, "wait_seconds": 0})
    assert not error and body["reached"] is True  # past wait_seconds, but within final_check_s


def test_the_tools_build_their_hub_on_the_servers_settings_and_clock(runtime: Runtime) -> None:
    tools = runtime.stream_tools  # as the server builds it
    assert tools.hub.idle_s == runtime.settings.stream_idle_s
    main = runtime.accounts.resolve("main")
    assert abs(tools.hub._now_ms(main) - time.time() * 1000) < 60_000  # signs with the client's clock
    assert tools.rest_poll_delays_s == (1.0, 2.0, 3.0, 5.0) and tools.final_check_s == 5.0


async def test_an_event_that_comes_before_the_first_look_up_answers_is_not_lost(tools: StreamTools) -> None:
    """The watch knows its order from the start: an event delivered as soon as it is registered
    (the real feed delivers only what ``matches``) is followed, REST confirming it."""
    hub, orders = _hub(tools), Orders(NEW, FILLED)
    tools._get_order = orders  # type: ignore[method-assign]
    original = hub.watch_order
    early = _report(X="FILLED", z="1")

    async def watch_and_deliver(account: Account, watch: OrderWatch, timeout_s: float) -> None:
        await original(account, watch, timeout_s)
        if watch.matches(early):
            watch.events.put_nowait(early)

    hub.watch_order = watch_and_deliver  # type: ignore[method-assign]
    with anyio.fail_after(2.0):  # a lost event would leave the wait to its 30 s deadline
        error, body = await _call(tools, "wait_for_order", {"symbol": "BTCUSDT", "orderId": 7, "wait_seconds": 30})
    assert not error and body["reached"] is True and body["source"] == "user_data_stream"
