"""The user data stream's bookkeeping, in process: ``UserStreams`` over a scripted stand-in for
its WebSocket connection (what is subscribed, signed, delivered, released and explained).

* an order watch matches its own order only, by order id or by either client id;
* an account's events reach the listeners that asked for their kind, and the watches of that
  order; the newest executionReport of each order is kept (at most ``RECENT_ORDERS``) and shown
  only while the events flow;
* the subscribe request is signed with the account's key over ``apiKey=..&timestamp=..``; a
  timestamp error re-syncs the clock and tries once more; refusals keep Binance's code and say
  what to do (-2035 names the entry that holds the subscription);
* entries sharing a key share one subscription; a key nobody uses any more is unsubscribed; idle
  feeds expire and the connection closes when none is left;
* a drop or ``eventStreamTerminated`` tells listeners and watches that events stopped; a reader
  still listening is subscribed again, and told once events flow that some may be missing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.errors import ExchangeError, TransportError, hint_for
from binance_spot_mcp.exchange.signing import HmacSigner
from binance_spot_mcp.results import dumps
from binance_spot_mcp.streams import user as user_module
from binance_spot_mcp.streams.buffers import Subscription
from binance_spot_mcp.streams.user import (
    RECENT_ORDERS,
    OrderWatch,
    UserStreams,
    _AccountFeed,
)

pytestmark = pytest.mark.anyio
URL = "ws://127.0.0.1:9/ws-api/v3"
NOW_MS = 1_700_000_000_123
BOUND_S = 5.0
SUBSCRIBE = "userDataStream.subscribe.signature"
UNSUBSCRIBE = "userDataStream.unsubscribe"


class FakeSocket:
    """Stands in for ``ReconnectingSocket``: records requests and answers them from ``answer``."""

    def __init__(self, *, ready: bool = True) -> None:
        self.ready = asyncio.Event()
        if ready:
            self.ready.set()
        self.last_error = ""
        self.requests: list[dict[str, Any]] = []
        self.starts = 0
        self.closes = 0
        self.waits: list[float] = []
        self.hold: asyncio.Event | None = None  # requests wait for it when set
        self.next_id = 1
        self.answer: Callable[[dict[str, Any]], Any] = self.accept

    def accept(self, message: dict[str, Any]) -> Any:
        if message["method"] == SUBSCRIBE:
            self.next_id += 1
            return {"status": 200, "result": {"subscriptionId": self.next_id - 1}}
        return {"status": 200, "result": {}}

    def start(self) -> None:
        self.starts += 1

    async def wait_ready(self, timeout_s: float) -> bool:
        self.waits.append(timeout_s)
        return self.ready.is_set()

    async def request(self, message: dict[str, Any]) -> Any:
        self.requests.append(message)
        if self.hold is not None:
            await self.hold.wait()
        reply = self.answer(message)
        if isinstance(reply, BaseException):
            raise reply
        return reply

    async def aclose(self) -> None:
        self.closes += 1
        self.ready.clear()

    def sent(self, method: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method]


def _account(name: str = "main", key: str = "K" * 64, secret: str = "S" * 64) -> Account:
    return Account(name=name, environment="testnet", api_key=key, signer=HmacSigner(secret),
                   base_url="http://127.0.0.1:1")


def _user(socket: FakeSocket | None = None, resync: Callable[[Account], Awaitable[Any]] | None = None,
          ) -> tuple[UserStreams, FakeSocket]:
    async def no_resync(_: Account) -> None:
        return None

    user = UserStreams(URL, now_ms=lambda _: NOW_MS, resync_clock=resync or no_resync)
    fake = socket or FakeSocket()
    user._socket = fake  # type: ignore[assignment]
    return user, fake


def _sub(kinds: tuple[str, ...] = ("executionReport", "balanceUpdate"), name: str = "s") -> Subscription:
    return Subscription(name, kinds, "testnet", "main")


def _report(**fields: Any) -> dict[str, Any]:
    return {"e": "executionReport", "s": "BTCUSDT", "i": 7, "c": "web_1", "X": "NEW", **fields}


async def _settle() -> None:
    """Let background tasks (unsubscribes, re-subscribes) run to their end."""
    for _ in range(20):
        await asyncio.sleep(0)


# -- OrderWatch.matches -------------------------------------------------------------------------------

@pytest.mark.parametrize(("watch", "event", "matches"), [
    (OrderWatch("BTCUSDT", 7, None), _report(), True),
    (OrderWatch("BTCUSDT", 7, None), _report(i=8), False),
    (OrderWatch("BTCUSDT", 7, None), _report(s="ETHUSDT"), False),
    (OrderWatch("BTCUSDT", 7, None), {**_report(), "e": "balanceUpdate"}, False),
    (OrderWatch("BTCUSDT", 7, "web_1"), _report(i=8), False),  # the order id decides when known
    (OrderWatch("BTCUSDT", None, "web_1"), _report(i=99), True),
    (OrderWatch("BTCUSDT", None, "mine"), _report(c="cancel_9", C="mine"), True),  # the original client id
    (OrderWatch("BTCUSDT", None, "mine"), _report(c="other", C="other2"), False),
    (OrderWatch("BTCUSDT", None, None), _report(c=None), False),
    (OrderWatch("BTCUSDT", None, None), {"e": "executionReport", "s": "BTCUSDT"}, False),
], ids=["order-id", "other-order-id", "other-symbol", "other-kind", "order-id-wins", "client-id", "orig-client-id",
        "other-client-ids", "no-ids-none", "no-ids-missing"])
def test_an_order_watch_matches_its_own_order_only(watch: OrderWatch, event: dict[str, Any], matches: bool) -> None:
    assert watch.matches(event) is matches


# -- one account's feed ---------------------------------------------------------------------------------

def test_the_newest_report_of_each_order_is_kept_by_symbol_and_its_own_client_id() -> None:
    feed = _AccountFeed(_account())
    feed.remember(_report(c="a", X="NEW"))
    feed.remember(_report(c="cancel_1", C="a", X="CANCELED"))  # a cancel: C is the order's own id
    feed.remember(_report(s="ETHUSDT", c="a", X="NEW"))
    feed.remember(_report(c="b", X="NEW"))
    feed.remember(_report(c="a", X="FILLED"))
    assert feed.recent[("BTCUSDT", "a")]["X"] == "FILLED"
    assert ("BTCUSDT", "cancel_1") not in feed.recent
    assert list(feed.recent) == [("ETHUSDT", "a"), ("BTCUSDT", "b"), ("BTCUSDT", "a")]  # newest last


@pytest.mark.parametrize("client_id", [None, "", 5, ["a"]], ids=["none", "empty", "number", "list"])
def test_a_report_without_a_usable_client_id_is_not_kept(client_id: Any) -> None:
    feed = _AccountFeed(_account())
    feed.remember(_report(c=client_id))
    assert not feed.recent


def test_at_most_recent_orders_reports_are_kept_the_oldest_go_first() -> None:
    feed = _AccountFeed(_account())
    for n in range(RECENT_ORDERS):
        feed.remember(_report(c=f"o{n}"))
    assert len(feed.recent) == RECENT_ORDERS and ("BTCUSDT", "o0") in feed.recent
    feed.remember(_report(c="o0", X="FILLED"))  # an update moves its order to the newest end
    feed.remember(_report(c="new"))
    assert len(feed.recent) == RECENT_ORDERS
    assert ("BTCUSDT", "o1") not in feed.recent and ("BTCUSDT", "o0") in feed.recent
    assert list(feed.recent)[-2:] == [("BTCUSDT", "o0"), ("BTCUSDT", "new")]


async def test_events_reach_the_listeners_of_their_kind_and_the_watches_of_their_order() -> None:
    feed = _AccountFeed(_account())
    orders, balances = _sub(("executionReport",), "o"), _sub(("balanceUpdate",), "b")
    mine, other = OrderWatch("BTCUSDT", 7, None), OrderWatch("BTCUSDT", 8, None)
    feed.listeners += [orders, balances]
    feed.watches += [mine, other]
    report, balance = _report(), {"e": "balanceUpdate", "a": "BTC", "d": "1.5", "c": "not-an-order"}
    feed.deliver("executionReport", report)
    feed.deliver("balanceUpdate", balance)
    assert [e["data"] for e in (await orders.read(0, wait_s=0, limit=10))["events"]] == [report]
    assert [e["data"] for e in (await balances.read(0, wait_s=0, limit=10))["events"]] == [balance]
    assert orders.bytes == len(dumps(report)) and balances.bytes == len(dumps(balance))
    assert mine.events.get_nowait() == report and mine.events.empty() and other.events.empty()
    assert list(feed.recent) == [("BTCUSDT", "web_1")]  # a balance update is no order


def test_a_stop_marks_listeners_down_and_watches_missed_and_the_return_reports_a_gap() -> None:
    feed = _AccountFeed(_account())
    first, second = _sub(name="1"), _sub(name="2")
    watch = OrderWatch("BTCUSDT", 7, None)
    feed.listeners += [first, second]
    feed.watches.append(watch)
    feed.lost()
    assert first.down and second.down and watch.missed
    feed.back()
    assert (first.down, first.gaps_unread, second.down, second.gaps_unread) == (False, 1, False, 1)


def test_a_feed_is_in_use_while_it_has_a_listener_or_a_watch() -> None:
    feed = _AccountFeed(_account())
    assert not feed.in_use
    feed.watches.append(OrderWatch("BTCUSDT", 7, None))
    assert feed.in_use
    feed.watches.clear()
    feed.listeners.append(_sub())
    assert feed.in_use


# -- subscribing -------------------------------------------------------------------------------------

async def test_the_subscribe_request_is_signed_with_the_accounts_key_over_key_and_timestamp() -> None:
    user, socket = _user()
    account = _account(secret="topsecret" * 8)
    await user.ensure(account, timeout_s=BOUND_S)
    (request,) = socket.requests
    payload = f"apiKey={account.api_key}&timestamp={NOW_MS}".encode()
    expected = hmac.new(("topsecret" * 8).encode(), payload, hashlib.sha256).hexdigest()
    assert request == {"method": SUBSCRIBE, "params": {"apiKey": account.api_key, "timestamp": NOW_MS,
                                                      "signature": expected}}
    assert socket.starts == 1 and user.flowing(account) and user.accounts() == ["main"]
    await user.ensure(account, timeout_s=BOUND_S)  # flowing: no second request
    assert len(socket.requests) == 1 and socket.starts == 2


async def test_the_timestamp_used_is_the_accounts_own_clock() -> None:
    seen: list[str] = []

    def now_ms(account: Account) -> int:
        seen.append(account.name)
        return NOW_MS + 5

    user = UserStreams(URL, now_ms=now_ms, resync_clock=lambda _: asyncio.sleep(0))
    socket = FakeSocket()
    user._socket = socket  # type: ignore[assignment]
    await user.ensure(_account("rsa"), timeout_s=BOUND_S)
    assert seen == ["rsa"] and socket.requests[0]["params"]["timestamp"] == NOW_MS + 5


async def test_a_timestamp_error_resyncs_the_clock_and_tries_once_more() -> None:
    resynced: list[str] = []

    async def resync(account: Account) -> None:
        resynced.append(account.name)

    user, socket = _user(resync=resync)
    replies = iter([{"status": 400, "error": {"code": -1021, "msg": "Timestamp outside recvWindow"}},
                    {"status": 200, "result": {"subscriptionId": 3}}])
    socket.answer = lambda _: next(replies)
    await user.ensure(_account(), timeout_s=BOUND_S)
    assert resynced == ["main"] and len(socket.requests) == 2 and user.flowing(_account())


async def test_a_second_timestamp_error_is_reported_not_retried_again() -> None:
    resynced: list[str] = []

    async def resync(account: Account) -> None:
        resynced.append(account.name)

    user, socket = _user(resync=resync)
    socket.answer = lambda _: {"status": 400, "error": {"code": -1021, "msg": "Timestamp outside recvWindow"}}
    with pytest.raises(ExchangeError) as raised:
        await user.ensure(_account(), timeout_s=BOUND_S)
    assert len(socket.requests) == 2 and resynced == ["main"]
    error = raised.value
    assert (error.status, error.code, error.msg) == (400, -1021, "Timestamp outside recvWindow")
    assert error.hint == hint_for(400, -1021) and "clock" in error.hint


@pytest.mark.parametrize(("reply", "status", "code", "msg"), [
    ({"status": 400, "error": {"code": -1022, "msg": "Signature for this request is not valid."}}, 400, -1022,
     "Signature for this request is not valid."),
    ({"status": 401, "error": {"code": "-2014", "msg": "bad key"}}, 401, None, "bad key"),  # a code that is no number
    ({"status": 400, "error": {"code": -1100}}, 400, -1100, "user data subscription refused"),
    ({"status": 400, "error": "no object"}, 400, None, "user data subscription refused"),
    ({"status": 200, "result": None}, 200, None, "user data subscription refused"),
    ({"status": 200, "result": [1]}, 200, None, "user data subscription refused"),
    ({"result": {"subscriptionId": 1}}, 0, None, "user data subscription refused"),
    (["not", "an", "object"], 0, None, "user data subscription refused"),
], ids=["refused", "code-text", "no-msg", "error-not-object", "result-none", "result-list", "no-status", "not-object"])
async def test_a_refused_or_unusable_subscribe_reply_is_an_exchange_error(
        reply: Any, status: int, code: int | None, msg: str) -> None:
    user, socket = _user()
    socket.answer = lambda _: reply
    account = _account()
    with pytest.raises(ExchangeError) as raised:
        await user.ensure(account, timeout_s=BOUND_S)
    error = raised.value
    assert (error.status, error.code, error.msg) == (status, code, msg)
    assert error.hint == hint_for(status, code)
    assert len(socket.requests) == 1 and not user.flowing(account) and user.accounts() == []


async def test_minus_2035_names_the_entry_that_holds_the_subscription() -> None:
    user, socket = _user()
    holder, other_holder = _account("main", key="A" * 64), _account("alt", key="C" * 64)
    await user.ensure(holder, timeout_s=BOUND_S)
    await user.ensure(other_holder, timeout_s=BOUND_S)
    same_key = _account("main-copy", key="B" * 64)
    await user.listen(_account("twin-of-twin", key="B" * 64), _sub(), timeout_s=BOUND_S)  # B is subscribed too
    twin = _account("twin", key="D" * 64)
    socket.answer = lambda _: {"status": 400, "error": {"code": -2035, "msg": "User Data Stream subscription already active."}}
    with pytest.raises(ExchangeError) as raised:
        await user.ensure(twin, timeout_s=BOUND_S)
    error = raised.value
    assert error.code == -2035 and error.status == 400
    assert error.msg == (
        "User Data Stream subscription already active. (Binance allows one user data subscription per Binance "
        "account on a connection; another account entry with a different API key for the same Binance account is "
        "already subscribed here: alt or main or twin-of-twin)")
    assert error.hint == ("Read this Binance account's events through that entry (subscribe_stream with its name as "
                          "account); wait_for_order still works for this entry, by polling get_order.")
    assert same_key.name not in error.msg


async def test_minus_2035_with_no_other_entry_subscribed_says_binance_holds_one() -> None:
    user, socket = _user()
    unsubscribed = _account("idle", key="A" * 64)
    user._feed(unsubscribed)  # known, but not subscribed: not named
    socket.answer = lambda _: {"status": 400, "error": {"code": -2035, "msg": "already active"}}
    twin = _account("twin", key="D" * 64)
    with pytest.raises(ExchangeError) as raised:
        await user.ensure(twin, timeout_s=BOUND_S)
    assert raised.value.msg == ("already active (Binance already has a user data subscription for this Binance "
                                "account on this connection)")
    assert raised.value.hint == "This account's events are unavailable for now; REST tools still work."


async def test_minus_2035_does_not_name_an_entry_with_the_same_key() -> None:
    user, socket = _user()
    await user.ensure(_account("main", key="A" * 64), timeout_s=BOUND_S)
    socket.answer = lambda _: {"status": 400, "error": {"code": -2035, "msg": "already active"}}
    user._subscribed.clear()  # as after a drop: main is no longer subscribed, then refused itself
    user._subscribed["Z" * 64] = 9
    with pytest.raises(ExchangeError) as raised:
        await user.ensure(_account("main", key="A" * 64), timeout_s=BOUND_S)
    assert "already has a user data subscription" in raised.value.msg


async def test_a_caller_waits_at_most_its_time_and_the_set_up_goes_on() -> None:
    user, socket = _user()
    socket.hold = asyncio.Event()
    account = _account()
    with pytest.raises(TransportError) as raised:
        await user.ensure(account, timeout_s=0.05)
    assert str(raised.value) == f"the user data stream at {URL} was not ready within 0.1 s"
    assert raised.value.sent is True and raised.value.hint == "Events are unavailable for now; REST tools still work."
    with pytest.raises(TransportError, match="not ready within"):
        await user.ensure(account, timeout_s=-3)  # a negative wait is no wait, and the same set-up is awaited
    assert len(socket.requests) == 1  # one set-up, shared
    socket.hold.set()
    with anyio.fail_after(BOUND_S):
        while not user.flowing(account):
            await asyncio.sleep(0)
    assert len(socket.requests) == 1


async def test_callers_at_once_share_one_set_up_and_a_later_one_starts_anew() -> None:
    user, socket = _user()
    socket.hold = asyncio.Event()
    first, second = _account("main"), _account("main2")  # same key
    with anyio.fail_after(BOUND_S):
        waits = [asyncio.ensure_future(user.ensure(a, timeout_s=BOUND_S)) for a in (first, second)]
        await _settle()
        socket.hold.set()
        await asyncio.gather(*waits)
    assert len(socket.sent(SUBSCRIBE)) == 1 and user.accounts() == ["main", "main2"]
    assert user._setups == {}  # the finished set-up is forgotten
    socket.hold = None
    user._on_drop()
    socket.answer = lambda _: {"status": 400, "error": {"code": -1022, "msg": "bad"}}
    with pytest.raises(ExchangeError):
        await user.ensure(first, timeout_s=BOUND_S)
    socket.answer = socket.accept
    await user.ensure(first, timeout_s=BOUND_S)  # a failed set-up is not handed to the next caller
    assert len(socket.sent(SUBSCRIBE)) == 3


async def test_no_connection_is_a_transport_error_that_says_why(caplog: Any) -> None:
    user, socket = _user(FakeSocket(ready=False))
    socket.last_error = "connection refused"
    with pytest.raises(TransportError) as raised:
        await user.ensure(_account(), timeout_s=BOUND_S)
    assert raised.value.message == f"could not connect to 127.0.0.1:9: connection refused ({URL})"
    assert raised.value.hint == "Events are unavailable; REST tools still work." and raised.value.sent is False
    assert socket.requests == [] and socket.waits == [user_module.CONNECT_WAIT_S]
    socket.last_error = ""
    with pytest.raises(TransportError, match=r"127\.0\.0\.1:9: timeout"):
        await user.ensure(_account(), timeout_s=BOUND_S)


async def test_a_failed_set_up_is_logged_with_the_entries_and_the_error_type(caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="binance_spot_mcp.streams.user")
    user, socket = _user()
    socket.hold = asyncio.Event()
    socket.answer = lambda _: {"status": 400, "error": {"code": -1022, "msg": "secret-ish text"}}
    account, copy = _account("main"), _account("copy")
    with pytest.raises(TransportError):
        await user.ensure(account, timeout_s=0)
    user._feed(copy)
    socket.hold.set()
    await _settle()
    assert "user data subscription for main, copy failed: ExchangeError" in caplog.text
    assert "secret-ish" not in caplog.text
    caplog.clear()
    socket.hold = asyncio.Event()
    with pytest.raises(TransportError):
        await user.ensure(_account("gone", key="G" * 64), timeout_s=0)
    del user._feeds["gone"]
    socket.hold.set()
    await _settle()
    assert "user data subscription for a removed account failed: ExchangeError" in caplog.text


async def test_a_set_up_for_a_key_nobody_uses_any_more_sends_nothing() -> None:
    user, socket = _user()
    socket.hold = None
    user._feeds.clear()
    await user._subscribe("K" * 64)
    assert socket.requests == [] and user._subscribed == {}


# -- listening and watching -----------------------------------------------------------------------------

async def test_a_listener_or_watch_whose_set_up_fails_is_removed_again() -> None:
    user, socket = _user()
    socket.answer = lambda _: {"status": 400, "error": {"code": -1022, "msg": "bad"}}
    account, sub, watch = _account(), _sub(), OrderWatch("BTCUSDT", 7, None)
    with pytest.raises(ExchangeError):
        await user.listen(account, sub, timeout_s=BOUND_S)
    with pytest.raises(ExchangeError):
        await user.watch(account, watch, timeout_s=BOUND_S)
    feed = user._feeds["main"]
    assert feed.listeners == [] and feed.watches == []


async def test_while_its_set_up_runs_a_listener_already_counts_as_in_use() -> None:
    user, socket = _user()
    socket.hold = asyncio.Event()
    account, sub = _account(), _sub()
    listening = asyncio.ensure_future(user.listen(account, sub, timeout_s=BOUND_S))
    await _settle()
    assert user._feeds["main"].listeners == [sub]
    await user.expire(0)  # nothing idle: it is in use
    assert "main" in user._feeds
    socket.hold.set()
    with anyio.fail_after(BOUND_S):
        await listening
    assert user._feeds["main"].listeners == [sub]


async def test_events_go_to_the_listeners_and_watches_of_the_subscription_they_came_on() -> None:
    user, _ = _user()
    main, other = _account("main", key="A" * 64), _account("other", key="B" * 64)
    main_sub, other_sub = _sub(name="m"), _sub(name="o")
    watch = OrderWatch("BTCUSDT", 7, None)
    await user.listen(main, main_sub, timeout_s=BOUND_S)
    await user.watch(main, watch, timeout_s=BOUND_S)
    await user.listen(other, other_sub, timeout_s=BOUND_S)
    main_id, other_id = user._subscribed["A" * 64], user._subscribed["B" * 64]
    report = _report()
    user._on_message({"subscriptionId": main_id, "event": report})
    user._on_message({"subscriptionId": other_id, "event": {"e": "balanceUpdate", "a": "BTC"}})
    user._on_message({"subscriptionId": 99, "event": _report(i=8)})  # no subscription of ours
    user._on_message({"subscriptionId": main_id, "event": "text"})
    user._on_message(["not", "a", "dict"])
    user._on_message({"subscriptionId": main_id})
    assert [e["data"] for e in (await main_sub.read(0, wait_s=0, limit=10))["events"]] == [report]
    assert [e["data"]["e"] for e in (await other_sub.read(0, wait_s=0, limit=10))["events"]] == ["balanceUpdate"]
    assert watch.events.get_nowait() == report and watch.events.empty()
    assert user.recent_order(main, "BTCUSDT", "web_1") == report
    assert user.recent_order(main, "BTCUSDT", "other") is None
    assert user.recent_order(other, "BTCUSDT", "web_1") is None


async def test_a_kept_report_is_shown_only_while_the_events_flow() -> None:
    user, socket = _user()
    account = _account()
    await user.listen(account, _sub(), timeout_s=BOUND_S)
    user._on_message({"subscriptionId": user._subscribed[account.api_key], "event": _report()})
    assert user.recent_order(account, "BTCUSDT", "web_1") is not None
    socket.ready.clear()
    assert user.recent_order(account, "BTCUSDT", "web_1") is None and not user.flowing(account)
    socket.ready.set()
    user._on_drop()
    assert user.recent_order(account, "BTCUSDT", "web_1") is None and not user.flowing(account)


async def test_detaching_removes_only_that_user_and_marks_the_feed_used() -> None:
    user, _ = _user()
    account = _account()
    first, second, watch = _sub(name="1"), _sub(name="2"), OrderWatch("BTCUSDT", 7, None)
    await user.listen(account, first, timeout_s=BOUND_S)
    await user.listen(account, second, timeout_s=BOUND_S)
    await user.watch(account, watch, timeout_s=BOUND_S)
    feed = user._feeds["main"]
    feed.last_used = 0.0
    user.unlisten("main", first)
    assert feed.listeners == [second] and feed.last_used > 0
    feed.last_used = 0.0
    user.unlisten("main", first)  # twice: nothing more happens
    user.unlisten("nobody", second)
    assert feed.listeners == [second] and feed.last_used == 0.0
    user.unwatch("main", watch)
    assert feed.watches == [] and feed.last_used > 0


# -- keys, releases, expiry ------------------------------------------------------------------------

async def test_entries_with_one_key_share_one_subscription_until_the_last_goes() -> None:
    user, socket = _user()
    main, copy = _account("main"), _account("copy")
    await user.ensure(main, timeout_s=BOUND_S)
    await user.ensure(copy, timeout_s=BOUND_S)
    assert len(socket.sent(SUBSCRIBE)) == 1 and user.accounts() == ["main", "copy"]
    assert user.flowing(copy)
    assert not user.flowing(_account("copy", key="N" * 64))  # another key under that name is not flowing
    assert not user.flowing(_account("unknown"))


async def test_a_key_changed_in_tools_md_is_unsubscribed_once_no_entry_uses_it() -> None:
    user, socket = _user()
    old = _account("main", key="A" * 64)
    await user.ensure(old, timeout_s=BOUND_S)
    old_id = user._subscribed["A" * 64]
    await user.ensure(_account("main", key="A" * 64), timeout_s=BOUND_S)  # re-read, same key: kept
    await _settle()
    assert socket.sent(UNSUBSCRIBE) == [] and user._subscribed == {"A" * 64: old_id}
    await user.ensure(_account("main", key="B" * 64), timeout_s=BOUND_S)
    await _settle()
    assert socket.sent(UNSUBSCRIBE) == [{"method": UNSUBSCRIBE, "params": {"subscriptionId": old_id}}]
    assert "A" * 64 not in user._subscribed and "B" * 64 in user._subscribed


async def test_a_key_still_used_by_another_entry_is_not_unsubscribed() -> None:
    user, socket = _user()
    await user.ensure(_account("main", key="A" * 64), timeout_s=BOUND_S)
    await user.ensure(_account("copy", key="A" * 64), timeout_s=BOUND_S)
    await user.ensure(_account("main", key="B" * 64), timeout_s=BOUND_S)
    await _settle()
    assert socket.sent(UNSUBSCRIBE) == [] and "A" * 64 in user._subscribed


async def test_idle_feeds_expire_in_use_ones_stay_and_the_last_closes_the_connection() -> None:
    user, socket = _user()
    busy, idle = _account("busy", key="A" * 64), _account("idle", key="B" * 64)
    await user.listen(busy, _sub(), timeout_s=BOUND_S)
    await user.ensure(idle, timeout_s=BOUND_S)
    busy_id, idle_id = user._subscribed["A" * 64], user._subscribed["B" * 64]
    await user.expire(3600)  # used just now: nothing expires
    assert set(user._feeds) == {"busy", "idle"} and socket.closes == 0
    user._feeds["idle"].last_used -= 10.0
    await user.expire(10.0)  # idle for exactly the idle time: it goes
    await _settle()
    assert set(user._feeds) == {"busy"} and not user.idle and socket.closes == 0
    assert socket.sent(UNSUBSCRIBE) == [{"method": UNSUBSCRIBE, "params": {"subscriptionId": idle_id}}]
    feed = user._feeds["busy"]
    feed.last_used -= 100.0
    await user.expire(10.0)
    assert "busy" in user._feeds  # in use: never expires
    feed.listeners.clear()
    await user.expire(10.0)
    await _settle()
    assert user._feeds == {} and user.idle and socket.closes == 1
    assert {"method": UNSUBSCRIBE, "params": {"subscriptionId": busy_id}} in socket.requests or not socket.ready.is_set()


async def test_a_feed_used_a_moment_ago_does_not_expire() -> None:
    user, _ = _user()
    await user.ensure(_account(), timeout_s=BOUND_S)
    user._feeds["main"].last_used -= 9.0
    await user.expire(10.0)
    assert "main" in user._feeds


async def test_an_unsubscribe_is_not_sent_on_a_closed_connection_and_its_failure_is_only_logged(caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="binance_spot_mcp.streams.user")
    user, socket = _user()
    await user._unsubscribe(4)
    assert socket.sent(UNSUBSCRIBE) == [{"method": UNSUBSCRIBE, "params": {"subscriptionId": 4}}]
    socket.ready.clear()
    await user._unsubscribe(5)
    assert len(socket.sent(UNSUBSCRIBE)) == 1
    socket.ready.set()
    socket.answer = lambda _: ConnectionResetError("gone")
    await user._unsubscribe(6)
    assert "user data unsubscribe failed: ConnectionResetError" in caplog.text


async def test_closing_cancels_set_ups_and_background_work_and_closes_the_connection() -> None:
    user, socket = _user()
    socket.hold = asyncio.Event()
    with pytest.raises(TransportError):
        await user.ensure(_account(), timeout_s=0)
    setups = list(user._setups.values())
    background = user._in_background(asyncio.sleep(3600))
    await user.aclose()
    await _settle()
    assert setups and all(t.cancelled() for t in setups) and background.cancelled()
    assert socket.closes == 1


# -- drops, re-subscribing, terminations ------------------------------------------------------------

async def test_after_a_reconnect_every_key_is_subscribed_again_once_with_a_fresh_signature(caplog: Any) -> None:
    user, socket = _user()
    main, copy, other = _account("main", key="A" * 64), _account("copy", key="A" * 64), _account("o", key="B" * 64)
    subs = {}
    for account in (main, copy, other):
        subs[account.name] = _sub(name=account.name)
        await user.listen(account, subs[account.name], timeout_s=BOUND_S)
    user._on_drop()
    assert user._subscribed == {} and all(s.down for s in subs.values()) and user.accounts() == []
    socket.requests.clear()
    refused = {"status": 400, "error": {"code": -1022, "msg": "bad"}}
    socket.answer = lambda m: refused if m["params"]["apiKey"] == "A" * 64 else socket.accept(m)
    user._subscribed["stale"] = 1  # from the connection that dropped
    await user._resubscribe()
    assert [r["params"]["apiKey"] for r in socket.requests] == ["A" * 64, "B" * 64]  # one per key, in order
    assert user._subscribed.keys() == {"B" * 64}
    assert "user data subscription for main, copy failed: ExchangeError" in caplog.text
    assert subs["o"].gaps_unread == 1 and not subs["o"].down  # events flow again: maybe some are missing
    assert subs["main"].down and subs["main"].gaps_unread == 0


async def test_binance_ending_a_subscription_someone_listens_to_subscribes_it_again() -> None:
    user, socket = _user()
    account, other = _account("main", key="A" * 64), _account("other", key="B" * 64)
    sub, watch, other_sub = _sub(), OrderWatch("BTCUSDT", 7, None), _sub(name="o")
    await user.listen(account, sub, timeout_s=BOUND_S)
    await user.watch(account, watch, timeout_s=BOUND_S)
    await user.listen(other, other_sub, timeout_s=BOUND_S)
    old_id = user._subscribed["A" * 64]
    socket.hold = asyncio.Event()
    user._on_message({"subscriptionId": old_id, "event": {"e": "eventStreamTerminated", "E": 1}})
    assert "A" * 64 not in user._subscribed and "B" * 64 in user._subscribed
    assert sub.down and watch.missed and not other_sub.down
    assert (await sub.read(0, wait_s=0, limit=10))["events"] == []  # the notice is not an event
    await _settle()
    assert len(socket.sent(SUBSCRIBE)) == 3  # subscribed again at once
    socket.hold.set()
    with anyio.fail_after(BOUND_S):
        while "A" * 64 not in user._subscribed:
            await asyncio.sleep(0)
    assert sub.gaps_unread == 1 and not sub.down and user._subscribed["A" * 64] != old_id
    user._on_message({"subscriptionId": old_id, "event": _report()})  # the old id is nobody's now
    assert sub.received == 0


async def test_binance_ending_a_subscription_nobody_uses_does_not_subscribe_it_again() -> None:
    user, socket = _user()
    account = _account()
    await user.ensure(account, timeout_s=BOUND_S)
    user._on_message({"subscriptionId": user._subscribed[account.api_key], "event": {"e": "eventStreamTerminated"}})
    await _settle()
    assert user._subscribed == {} and len(socket.sent(SUBSCRIBE)) == 1


# -- pinned after the mutation run (issue 22) -------------------------------------------------------

async def test_a_caller_that_gives_no_time_is_answered_at_once() -> None:
    user, socket = _user()
    socket.hold = asyncio.Event()
    with anyio.fail_after(0.8):  # the set-up never ends here: only the caller's own bound can end these
        with pytest.raises(TransportError):
            await user.ensure(_account(), timeout_s=0)
        with pytest.raises(TransportError):
            await user.listen(_account(), _sub(), timeout_s=0)
        with pytest.raises(TransportError):
            await user.watch(_account(), OrderWatch("BTCUSDT", 7, None), timeout_s=0)
    await user.aclose()


async def test_a_feed_idle_for_exactly_the_idle_time_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    user, _ = _user()
    await user.ensure(_account(), timeout_s=BOUND_S)
    now = [1000.0]
    monkeypatch.setattr(user_module, "time", type("Clock", (), {"monotonic": staticmethod(lambda: now[0])}))
    user._feeds["main"].last_used = 990.0
    await user.expire(10.000001)
    assert "main" in user._feeds
    await user.expire(10.0)
    assert user._feeds == {}


async def test_a_key_changed_before_its_subscription_came_about_is_simply_dropped() -> None:
    user, socket = _user()
    socket.answer = lambda _: {"status": 400, "error": {"code": -1022, "msg": "bad"}}
    with pytest.raises(ExchangeError):
        await user.ensure(_account("main", key="A" * 64), timeout_s=BOUND_S)
    socket.answer = socket.accept
    await user.ensure(_account("main", key="B" * 64), timeout_s=BOUND_S)  # the old key was never subscribed
    await _settle()
    assert socket.sent(UNSUBSCRIBE) == [] and list(user._subscribed) == ["B" * 64]


def _messages(caplog: Any) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "binance_spot_mcp.streams.user"]


async def test_the_log_lines_say_what_failed_and_nothing_for_a_set_up_that_worked(caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="binance_spot_mcp.streams.user")
    user, socket = _user()
    await user.ensure(_account(), timeout_s=BOUND_S)
    await _settle()
    assert _messages(caplog) == []  # a set-up that worked logs nothing
    socket.answer = lambda _: ConnectionResetError("gone")
    await user._unsubscribe(6)
    socket.answer = lambda _: {"status": 400, "error": {"code": -1022, "msg": "bad"}}
    with pytest.raises(ExchangeError):
        await user.ensure(_account("other", key="O" * 64), timeout_s=BOUND_S)
    await _settle()
    assert _messages(caplog) == ["user data unsubscribe failed: ConnectionResetError",
                                 "user data subscription for other failed: ExchangeError"]


async def test_a_refusal_never_names_the_entry_being_subscribed_as_another() -> None:
    """A -2035 for a key that is meanwhile subscribed (a second request that crossed the first)."""
    user, socket = _user()
    await user.ensure(_account("main", key="A" * 64), timeout_s=BOUND_S)
    socket.answer = lambda _: {"status": 400, "error": {"code": -2035, "msg": "already active"}}
    with pytest.raises(ExchangeError) as raised:
        await user._subscribe("A" * 64)
    assert "main" not in raised.value.msg and "already has a user data subscription" in raised.value.msg


async def test_after_the_connection_drops_the_account_is_subscribed_again_with_a_fresh_signature() -> None:
    """Over a real socket against a scripted WebSocket API: the first connection closes once the
    test says so; the second one must get a new subscribe, and the reader learns of the gap."""
    import json

    from tests.streams.test_hostile_frames import scripted

    drop = asyncio.Event()
    requests: list[tuple[int, dict[str, Any]]] = []
    connections = 0

    async def handler(ws: Any) -> None:
        nonlocal connections
        connections += 1
        number = connections
        async for raw in ws:
            request = json.loads(raw)
            requests.append((number, request))
            await ws.send(json.dumps({"id": request["id"], "status": 200, "result": {"subscriptionId": number}}))
            if number == 1:
                await drop.wait()
                await ws.close()
                return

    clock = iter(range(NOW_MS, NOW_MS + 1000))
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    async def no_resync(_: Account) -> None:
        return None

    async with scripted(handler) as url:
        user = UserStreams(f"{url}/ws-api/v3", now_ms=lambda _: next(clock), resync_clock=no_resync,
                           reconnect_delays_s=(0.01,), sleep=pause)
        account, sub = _account(), _sub()
        try:
            with anyio.fail_after(BOUND_S):
                await user.listen(account, sub, timeout_s=BOUND_S)
                assert user.flowing(account) and [n for n, _ in requests] == [1]
                drop.set()
                while not (sub.gaps_unread and user.flowing(account)):
                    await asyncio.sleep(0.01)
        finally:
            await user.aclose()
    assert [n for n, _ in requests] == [1, 2] and user.socket.connects == 2
    first, second = (r["params"] for _, r in requests)
    assert second["timestamp"] > first["timestamp"] and second["signature"] != first["signature"]
    assert pauses  # the connection used the options it was given (here: its pause between attempts)
    assert sub.gaps_unread == 1 and not sub.down
