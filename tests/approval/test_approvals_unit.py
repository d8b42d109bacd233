"""Approval records and the request digest, without a server: what an approval is bound to, and
that a record is decided once, through its own channel, redeemed once and dies at its expiry.

Time is a fake clock handed to ``ApprovalBook``; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from binance_spot_mcp.approval.book import (
    APPROVAL_TTL_S,
    MAX_OPEN_APPROVALS,
    ApprovalBook,
    Channel,
    Grant,
    Status,
    TooManyPending,
    request_digest,
    session_key,
)

pytestmark = pytest.mark.anyio

DIGEST = "d" * 64
OTHER_DIGEST = "e" * 64

BINDING = {
    "tool": "place_order",
    "params": [("symbol", "BTCUSDT"), ("side", "BUY"), ("quantity", "0.5")],
    "account": "live",
    "environment": "mainnet",
    "destination": "mainnet",
    "base_url": "https://api.binance.com",
    "api_key_fingerprint": "fp-key-1",
    "signer_kind": "HMAC_SHA256",
    "signer_fingerprint": "fp-signer-1",
    "session": "http:abc",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _book(clock: Clock | None = None, ttl_s: float = APPROVAL_TTL_S) -> ApprovalBook:
    return ApprovalBook(ttl_s=ttl_s, clock=clock or Clock())


def _create(book: ApprovalBook, channel: Channel = Channel.URL, *, digest: str = DIGEST, session: str | None = None,
            arguments: dict | None = None):
    return book.create(channel=channel, tool="cancel_open_orders", arguments=arguments or {"symbol": "BTCUSDT"},
                       digest=digest, preview="Cancel all open orders", session=session)


def _approved(book: ApprovalBook, **kwargs):
    pending = _create(book, **kwargs)
    assert book.decide(pending.approval_id, pending.secret, channel=pending.channel, approve=True,
                       csrf=pending.csrf) is Status.APPROVED
    return pending


# --- request_digest ---------------------------------------------------------------------------


def test_the_digest_is_stable_and_ignores_the_order_of_arguments():
    again = {**BINDING, "params": list(reversed(BINDING["params"]))}
    assert request_digest(**BINDING) == request_digest(**again)
    assert len(request_digest(**BINDING)) == 64 and int(request_digest(**BINDING), 16) >= 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tool", "cancel_replace_order"),
        ("params", [("symbol", "BTCUSDT"), ("side", "BUY"), ("quantity", "5")]),  # another value
        ("params", [("symbol", "BTCUSDT"), ("side", "BUY"), ("newQty", "0.5")]),  # another name
        ("params", [("symbol", "BTCUSDT"), ("side", "BUY")]),  # one fewer
        ("account", "live2"),
        ("environment", "testnet"),
        ("destination", "testnet"),
        ("base_url", "https://api1.binance.com"),
        ("api_key_fingerprint", "fp-key-2"),
        ("signer_kind", "ED25519"),
        ("signer_fingerprint", "fp-signer-2"),
        ("session", "http:other"),
        ("session", None),
    ],
)
def test_an_approval_is_bound_to_every_part_of_the_request(field, value):
    assert request_digest(**{**BINDING, field: value}) != request_digest(**BINDING)


def test_values_cannot_be_shifted_between_fields_to_collide():
    # the same strings in other places are another request
    swapped = {**BINDING, "account": "mainnet", "environment": "live"}
    assert request_digest(**swapped) != request_digest(**BINDING)
    split = {**BINDING, "params": [("symbol", "BTCUSDTBUY"), ("side", ""), ("quantity", "0.5")]}
    assert request_digest(**split) != request_digest(**BINDING)


# --- session_key ------------------------------------------------------------------------------


class _Conn:
    def __init__(self, session_id: str | None = None) -> None:
        self.session_id = session_id


def _ctx(connection):
    class Session:
        _connection = connection

    class Ctx:
        session = Session()

    return Ctx()


def test_an_http_session_is_named_by_its_session_id_in_both_eras():
    for modern in (False, True):
        assert session_key(_ctx(_Conn("s-1")), modern=modern) == "http:s-1"
    assert session_key(_ctx(_Conn("s-1")), modern=False) != session_key(_ctx(_Conn("s-2")), modern=False)


def test_a_handshake_connection_gets_one_name_for_its_lifetime_and_others_another():
    first, second = _Conn(), _Conn()
    key = session_key(_ctx(first), modern=False)
    assert key is not None and key.startswith("conn:") and len(key) == len("conn:") + 16
    assert session_key(_ctx(first), modern=False) == key
    assert session_key(_ctx(second), modern=False) not in (None, key)


def test_no_session_no_name():
    assert session_key(object(), modern=False) is None  # no session at all
    assert session_key(_ctx(None), modern=False) is None
    assert session_key(_ctx(_Conn()), modern=True) is None  # a modern request is its own connection
    assert session_key(_ctx(_Conn("")), modern=True) is None
    assert session_key(_ctx(object.__new__(_NoWeakRef)), modern=False) is None


class _NoWeakRef:
    __slots__ = ("session_id",)

    def __init__(self) -> None:
        self.session_id = None


# --- records: creation, repr, grants ----------------------------------------------------------


def test_a_record_has_its_own_unguessable_credentials_and_a_copy_of_the_arguments():
    clock = Clock()
    book = _book(clock, ttl_s=300)
    arguments = {"symbol": "BTCUSDT"}
    first, second = _create(book, arguments=arguments), _create(book)
    assert first.approval_id != second.approval_id and first.secret != second.secret
    assert first.secret != first.csrf and len(first.secret) >= 32 and len(first.csrf) >= 32
    assert len(first.approval_id) == 16
    assert first.status is Status.PENDING and first.expires_at == clock.now + 300
    # what the page/card shows and what an approved card call runs are the record's own
    assert (first.tool, first.preview, first.digest) == ("cancel_open_orders", "Cancel all open orders", DIGEST)
    arguments["symbol"] = "ETHUSDT"  # the caller's dict changing later does not change what was asked
    assert first.arguments == {"symbol": "BTCUSDT"}
    shown = repr(first)
    assert first.secret not in shown and first.csrf not in shown and first.approval_id in shown
    assert repr(book) == "ApprovalBook(2 open)"


def test_a_grant_names_its_channel_and_approval_for_the_journal():
    assert Grant(Channel.URL, "abc").journal_fields() == {"approved_via": "url", "approval_id": "abc"}
    assert Grant(Channel.APP, "x").journal_fields()["approved_via"] == "app"


# --- lookup and decide: own channel, right secret, right CSRF, once ---------------------------


def test_lookup_needs_the_id_the_secret_and_the_records_own_channel():
    book = _book()
    pending = _create(book, Channel.APP)
    assert book.lookup(pending.approval_id, pending.secret, Channel.APP) is pending
    assert book.lookup(pending.approval_id, pending.secret, Channel.URL) is None
    assert book.lookup(pending.approval_id, pending.secret[:-1], Channel.APP) is None
    assert book.lookup(pending.approval_id, pending.csrf, Channel.APP) is None
    assert book.lookup("0" * 16, pending.secret, Channel.APP) is None


def test_a_decision_needs_the_secret_and_csrf_and_is_made_once():
    book = _book()
    pending = _create(book)
    assert book.decide(pending.approval_id, "wrong", channel=Channel.URL, approve=True, csrf=pending.csrf) is None
    assert book.decide(pending.approval_id, pending.secret, channel=Channel.URL, approve=True, csrf="wrong") is None
    assert book.decide(pending.approval_id, pending.secret, channel=Channel.APP, approve=True, csrf=pending.csrf) is None
    assert book.status(pending.approval_id) is Status.PENDING
    assert book.decide(pending.approval_id, pending.secret, channel=Channel.URL, approve=True, csrf=pending.csrf,
                       note="typed CONFIRM") is Status.APPROVED
    assert pending.note == "typed CONFIRM"
    # decided: neither another decision nor a lookup finds it
    assert book.decide(pending.approval_id, pending.secret, channel=Channel.URL, approve=False, csrf=pending.csrf) is None
    assert book.lookup(pending.approval_id, pending.secret, Channel.URL) is None
    assert book.status(pending.approval_id) is Status.APPROVED


def test_a_card_decision_without_a_csrf_token_and_a_decline():
    book = _book()
    approved, declined = _create(book, Channel.APP), _create(book, Channel.APP)
    assert book.decide(approved.approval_id, approved.secret, channel=Channel.APP, approve=True) is Status.APPROVED
    assert book.decide(declined.approval_id, declined.secret, channel=Channel.APP, approve=False,
                       note="no") is Status.DECLINED
    assert declined.status is Status.DECLINED and declined.note == "no"
    assert book.redeem(declined.approval_id, DIGEST, None) is None


# --- cancel -----------------------------------------------------------------------------------


def test_a_cancelled_record_can_no_longer_be_approved_or_redeemed():
    book = _book()
    pending = _create(book)
    book.cancel(pending.approval_id, "the wait timed out")
    assert pending.status is Status.DECLINED and pending.note == "the wait timed out"
    assert book.decide(pending.approval_id, pending.secret, channel=Channel.URL, approve=True, csrf=pending.csrf) is None
    assert book.redeem(pending.approval_id, DIGEST, None) is None
    book.cancel("unknown")  # nothing to cancel: no error


def test_cancel_leaves_a_decided_record_as_the_human_left_it():
    book = _book()
    pending = _approved(book)
    book.cancel(pending.approval_id, "late")
    assert pending.status is Status.APPROVED and pending.note == ""


# --- redeem: exactly this request, this session, once -----------------------------------------


def test_an_approval_is_redeemed_once_for_exactly_its_request_and_session():
    book = _book()
    pending = _approved(book, session="http:s-1")
    assert book.redeem(pending.approval_id, OTHER_DIGEST, "http:s-1") is None  # other arguments/account/key
    assert book.redeem(pending.approval_id, DIGEST, "http:s-2") is None  # another session
    assert book.redeem(pending.approval_id, DIGEST, None) is None
    assert book.redeem("0" * 16, DIGEST, "http:s-1") is None
    # the refusals did not use it up: the request it was made for still goes through, once
    spent = book.redeem(pending.approval_id, DIGEST, "http:s-1")
    assert spent is pending and spent.status is Status.SPENT
    assert book.redeem(pending.approval_id, DIGEST, "http:s-1") is None
    assert book.status(pending.approval_id) is None


def test_an_undecided_record_is_not_redeemable():
    book = _book()
    pending = _create(book)
    assert book.redeem(pending.approval_id, DIGEST, None) is None
    assert book.status(pending.approval_id) is Status.PENDING


# --- expiry -----------------------------------------------------------------------------------


def test_a_record_lives_until_its_expiry_and_not_a_moment_longer():
    clock = Clock()
    book = _book(clock, ttl_s=300)
    pending = _create(book)
    clock.now += 299.999
    assert book.lookup(pending.approval_id, pending.secret, Channel.URL) is pending
    clock.now = pending.expires_at  # expiry is exclusive
    assert book.lookup(pending.approval_id, pending.secret, Channel.URL) is None
    assert pending.status is Status.EXPIRED
    assert book.status(pending.approval_id) is None
    assert book.decide(pending.approval_id, pending.secret, channel=Channel.URL, approve=True, csrf=pending.csrf) is None


def test_an_approved_record_cannot_be_redeemed_after_its_expiry():
    clock = Clock()
    book = _book(clock)
    pending = _approved(book)
    clock.now = pending.expires_at
    assert book.redeem(pending.approval_id, DIGEST, None) is None
    assert pending.status is Status.EXPIRED
    just_in_time = _approved(book)
    clock.now = just_in_time.expires_at - 0.001
    assert book.redeem(just_in_time.approval_id, DIGEST, None) is just_in_time


def test_status_reports_the_live_state_and_nothing_for_expired_or_unknown():
    clock = Clock()
    book = _book(clock)
    pending = _create(book)
    assert book.status(pending.approval_id) is Status.PENDING
    assert book.status("unknown") is None
    assert book.now() == clock.now
    clock.now = pending.expires_at
    assert book.status(pending.approval_id) is None and pending.status is Status.EXPIRED


# --- a full book ------------------------------------------------------------------------------


def _fill(book: ApprovalBook, count: int = MAX_OPEN_APPROVALS) -> list:
    return [_create(book) for _ in range(count)]


def test_the_book_holds_exactly_max_open_approvals_then_refuses_with_the_count():
    book = _book()
    records = _fill(book)
    with pytest.raises(TooManyPending, match=f"^{MAX_OPEN_APPROVALS} approvals are already waiting for a human$"):
        _create(book)
    assert all(book.status(r.approval_id) is Status.PENDING for r in records)  # nobody pushed out


def test_declined_spent_and_expired_records_free_their_slots():
    clock = Clock()
    book = _book(clock)
    records = _fill(book)
    book.cancel(records[0].approval_id)
    _create(book)  # the declined one's slot
    approved = records[1]
    book.decide(approved.approval_id, approved.secret, channel=Channel.URL, approve=True)
    book.redeem(approved.approval_id, DIGEST, None)
    _create(book)  # the spent one's slot
    with pytest.raises(TooManyPending):
        _create(book)
    clock.now += APPROVAL_TTL_S  # every record expires at once
    fresh = _create(book)
    assert records[5].status is Status.EXPIRED and book.status(fresh.approval_id) is Status.PENDING
    assert repr(book) == "ApprovalBook(1 open)"


def test_a_new_request_expires_records_that_nobody_looked_at():
    clock = Clock()
    book = _book(clock, ttl_s=10)
    old = _create(book)
    clock.now += 10
    _create(book)
    assert old.status is Status.EXPIRED


# --- waiting for the human --------------------------------------------------------------------


async def _waited_on(book: Any, approval_id: str, then: Callable[[], Awaitable[object]]) -> list[Status | None]:
    """What ``wait_decided`` returned to a waiter already waiting when ``then`` ran."""
    results: list[Status | None] = []

    async def wait() -> None:
        results.append(await book.wait_decided(approval_id, 30))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await anyio.wait_all_tasks_blocked()  # the waiter is registered and waiting
            await then()
    return results


async def test_a_waiting_call_wakes_when_the_human_decides_on_another_thread():
    book = _book()
    pending = _create(book)

    async def decide_on_a_thread() -> None:
        await anyio.to_thread.run_sync(
            lambda: book.decide(pending.approval_id, pending.secret, channel=Channel.URL, approve=True))

    assert await _waited_on(book, pending.approval_id, decide_on_a_thread) == [Status.APPROVED]


async def test_waiting_returns_at_once_for_decided_unknown_and_undecided_after_the_timeout():
    book = _book()
    decided = _approved(book)
    waiting = _create(book)
    with anyio.fail_after(10):
        assert await book.wait_decided(decided.approval_id, 30) is Status.APPROVED
        assert await book.wait_decided("unknown", 30) is None
        assert await book.wait_decided(waiting.approval_id, 0) is Status.PENDING


async def test_a_record_that_expires_while_waited_on_reports_nothing():
    clock = Clock()
    book = _book(clock)
    pending = _create(book)

    async def expire() -> None:
        clock.now = pending.expires_at
        _create(book)  # the next request expires it, which wakes the waiter

    assert await _waited_on(book, pending.approval_id, expire) == [None] and pending.status is Status.EXPIRED


def test_a_waiter_whose_event_loop_has_closed_does_not_stop_the_decision():
    book = _book()
    pending = _create(book)

    def gave_up() -> None:
        asyncio.run(book.wait_decided(pending.approval_id, 0))  # registers a waiter, then its loop closes

    thread = threading.Thread(target=gave_up)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert book.decide(pending.approval_id, pending.secret, channel=Channel.URL, approve=True) is Status.APPROVED
    assert book.redeem(pending.approval_id, DIGEST, None) is pending
