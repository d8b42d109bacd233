"""The approval gate's URL and MCP Apps card channels without a server (issue 22, mutation run of
``approval.gate``): every answer's outcome -- the grant, or the refusal's reason code, the words the
user reads, its hint and what is journaled (reason, channel) -- and the card's own journal lines
(declined, wrong text, timed out, cancelled at shutdown). Fakes: ``gate_fakes.py``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import pytest
from mcp.types import (
    CallToolResult,
    ElicitResult,
    InputRequiredResult,
)

from binance_spot_mcp.approval.book import WRONG_TEXT_NOTE, Channel, Grant, Status, request_code
from binance_spot_mcp.approval.card import APPROVAL_META_KEY
from binance_spot_mcp.approval.confirm import PendingState
from binance_spot_mcp.approval.gate import (
    CANCELLED,
    DECLINED,
    FAILED,
    INVALID,
    TIMED_OUT,
    WRONG_TEXT,
    ApprovalGate,
)
from binance_spot_mcp.approval.page import clock_time
from tests.approval.gate_fakes import (
    DIGEST,
    PREVIEW,
    TOO_MANY_HINT,
    Connection,
    Journal,
    asker,
    gate,
    modern_question,
    params,
    refused,
    request,
    said,
    typed,
)

pytestmark = pytest.mark.anyio

# --- url -----------------------------------------------------------------------------------------


def _url_message(pending: Any) -> str:
    """The host's prompt names the request's short code (also on the page), the headline and the expiry."""
    code = request_code(pending.approval_id)
    until = clock_time(pending.expires_wall)
    return (f"Binance request {code}: {PREVIEW.splitlines()[0]}. Open the link, check that the page shows the code "
            f"{code}, and type CONFIRM there only if you want it sent. The link works once, until {until}.")


def _on_page(the_gate: ApprovalGate, *, approve: bool = True, note: str = "", action: str = "accept",
             then: Any = None) -> Any:
    """A human who opens the link and decides there (``then`` runs after the decision)."""

    def answer(message: str, url: str, approval_id: str, related: Any) -> ElicitResult:
        secret = url.rsplit("/", 1)[1]
        pending = the_gate.book.lookup(approval_id, secret, Channel.URL)
        assert pending is not None and pending.preview == PREVIEW and message == _url_message(pending) and related == 41
        assert (pending.tool, pending.arguments, pending.digest) == ("cancel_open_orders", {"symbol": "BTCUSDT"}, DIGEST)
        if action == "accept":
            the_gate.book.decide(approval_id, secret, channel=Channel.URL, approve=approve, csrf=pending.csrf, note=note)
        if then is not None:
            then(approval_id)
        return ElicitResult(action=action)

    return answer


async def test_a_url_approval_grants_and_tells_the_host_the_page_is_done():
    the_gate, _ = gate()
    ask = asker("url", answer=_on_page(the_gate))
    with anyio.fail_after(10):
        grant = await the_gate.approve(request(), ask)
    assert isinstance(grant, Grant) and grant.via is Channel.URL
    assert ask.ctx.session.completed == [(grant.approval_id, 41)]
    assert the_gate.book.status(grant.approval_id) is None  # spent


async def test_a_url_approval_stands_when_the_done_notice_fails(caplog):
    the_gate, _ = gate()
    ask = asker("url", answer=_on_page(the_gate))
    ask.ctx.session.complete_fails = True
    caplog.set_level(logging.DEBUG, logger="binance_spot_mcp.approval.gate")
    with anyio.fail_after(10):
        assert isinstance(await the_gate.approve(request(), ask), Grant)
    [record] = [r for r in caplog.records if r.name == "binance_spot_mcp.approval.gate"]
    assert record.levelno == logging.DEBUG and record.getMessage() == "could not send elicitation/complete"
    assert record.exc_info is not None and "gone" in caplog.text


@pytest.mark.parametrize(("human", "expected"), [
    ({"action": "decline"}, (DECLINED, "The approval page was not opened (decline).")),
    ({"action": "cancel"}, (CANCELLED, "The approval page was not opened (cancel).")),
    ({"approve": False}, (DECLINED, ("The request was not approved on the approval page (declined, wrong text or "
                          "expired)."))),
    ({"approve": False, "note": WRONG_TEXT_NOTE}, (WRONG_TEXT, ("The request was not approved on the approval page "
                                                    "(declined, wrong text or expired)."))),
], ids=["page-declined", "page-cancelled", "declined-there", "wrong-text-there"])
async def test_a_url_answer_other_than_approval_refuses_and_kills_the_link(human, expected):
    the_gate, _ = gate()
    journal = Journal()
    links: list[str] = []
    exc = await refused(the_gate, request(journal), asker("url", answer=_on_page(the_gate, then=links.append, **human)))
    assert said(exc) == (*expected, None)
    assert journal.lines == [(expected[0], "url")]
    assert the_gate.book.status(links[0]) in (Status.DECLINED, None)
    assert not the_gate.book.redeem(links[0], DIGEST, "http:abc")


async def test_a_url_record_that_expires_while_waited_on_timed_out():
    the_gate, clock = gate()

    def expire(approval_id: str) -> None:
        clock.now += 301

    exc = await refused(the_gate, request(), asker("url", answer=_on_page(the_gate, action="accept", approve=True,
                                                                          then=expire)))
    assert exc.reason == TIMED_OUT


async def test_a_url_page_nobody_decides_on_times_out_and_dies():
    the_gate, _ = gate()
    links: list[str] = []
    journal = Journal()
    ask = asker("url", answer=_on_page(the_gate, then=links.append, action="opened"))
    ask.ctx.session.answer = lambda *q: (links.append(q[2]), ElicitResult(action="accept"))[1]
    exc = await refused(the_gate, request(journal), ask)
    assert said(exc) == (TIMED_OUT, "No decision was made on the approval page within 5 minutes.", None)
    assert journal.lines == [(TIMED_OUT, "url")]
    assert the_gate.book.status(links[0]) is Status.DECLINED  # the link died with the call


@pytest.mark.parametrize(("answer", "expected"), [
    ("hang", (TIMED_OUT, "The approval page was not opened (no answer in time).")),
    (RuntimeError("boom"), (FAILED, "The approval prompt failed (RuntimeError).")),
], ids=["no-answer", "prompt-fails"])
async def test_a_url_prompt_without_an_answer_refuses(answer, expected):
    the_gate, _ = gate()
    journal = Journal()
    ask = asker("url", answer=answer)
    exc = await refused(the_gate, request(journal), ask)
    assert said(exc) == (*expected, None)
    assert journal.lines == [(expected[0], "url")]
    approval_id = ask.ctx.session.asked[0][2]
    assert the_gate.book.status(approval_id) is Status.DECLINED


async def test_a_page_that_cannot_start_refuses_and_cancels_its_record():
    the_gate, _ = gate()
    the_gate.page.fails = True  # type: ignore[attr-defined]
    journal = Journal()
    exc = await refused(the_gate, request(journal), asker("url", answer=typed("CONFIRM")))
    assert said(exc) == (FAILED, "The approval page could not be started (OSError).", None)
    assert journal.lines == [(FAILED, "url")]
    assert the_gate.book._items and all(p.status is Status.DECLINED for p in the_gate.book._items.values())


async def test_a_full_book_refuses_a_new_url_or_card_approval():
    from binance_spot_mcp.approval.book import MAX_OPEN_APPROVALS

    for channels, channel in ((("url",), "url"), (("apps",), "app")):
        the_gate, _ = gate()
        for _ in range(MAX_OPEN_APPROVALS):
            the_gate.book.create(channel=Channel.URL, tool="t", arguments={}, digest=DIGEST, preview="p", session=None)
        journal = Journal()
        exc = await refused(the_gate, request(journal), asker(*channels))
        assert said(exc) == (FAILED, (f"Too many approvals are waiting ({MAX_OPEN_APPROVALS} approvals are already "
                             "waiting for a human)."), TOO_MANY_HINT)
        assert journal.lines == [(FAILED, channel)]


async def test_the_modern_url_channel_asks_with_a_link_then_grants_once_decided():
    the_gate, _ = gate()
    question = await modern_question(the_gate, request(), "url")
    ask = question.input_requests["approve"].params
    state = PendingState.decode(question.request_state)
    assert (state.step, state.account, state.digest) == ("approve", "live", DIGEST)
    approval_id, secret = ask.url.rsplit("/", 2)[1:]
    assert approval_id == state.approval
    pending = the_gate.book.lookup(approval_id, secret, Channel.URL)
    assert ask.message == _url_message(pending)
    the_gate.book.decide(approval_id, secret, channel=Channel.URL, approve=True, csrf=pending.csrf)
    answered = asker("url", modern=True, params=params(state, ElicitResult(action="accept"), key="approve"))
    elsewhere = asker("url", modern=True, params=params(state, ElicitResult(action="accept"), key="approve"))
    elsewhere.ctx.session._connection = Connection("other")
    journal = Journal()
    exc = await refused(the_gate, request(journal), elsewhere)  # the state is spent, the link dies with it
    assert said(exc) == (INVALID, "That approval does not match this request, or was already used.", None)
    assert journal.lines == [(INVALID, "url")]
    retry = await refused(the_gate, request(), answered)  # its state is spent
    assert said(retry) == (INVALID, "That approval was already used or has expired (5 minutes).", None)
    again = await modern_question(the_gate, request(), "url")
    state = PendingState.decode(again.request_state)
    approval_id, secret = again.input_requests["approve"].params.url.rsplit("/", 2)[1:]
    pending = the_gate.book.lookup(approval_id, secret, Channel.URL)
    the_gate.book.decide(approval_id, secret, channel=Channel.URL, approve=True, csrf=pending.csrf)
    answered = asker("url", modern=True, params=params(state, ElicitResult(action="accept"), key="approve"))
    grant = await the_gate.approve(request(), answered)
    assert grant == Grant(Channel.URL, approval_id) and answered.ctx.session.completed == []


async def test_a_modern_url_state_without_an_answer_times_out_and_kills_the_link():
    the_gate, _ = gate()
    question = await modern_question(the_gate, request(), "url")
    state = PendingState.decode(question.request_state)
    exc = await refused(the_gate, request(), asker("url", modern=True, params=params(state, None)))
    assert said(exc) == (TIMED_OUT, "The approval page was not opened (no answer in time).", None)
    assert the_gate.book.status(state.approval) is Status.DECLINED


async def test_a_modern_url_state_without_an_approval_id_asks_afresh():
    the_gate, _ = gate()
    state = PendingState("approve", "n" * 22, "live", DIGEST, None)
    result = await the_gate.approve(request(), asker("url", modern=True, params=params(state, None)))
    assert isinstance(result, InputRequiredResult) and "approve" in result.input_requests


# --- MCP Apps card -------------------------------------------------------------------------------


CARD_NEXT_STEP = ("The human sees a confirmation card with this preview. Nothing is sent unless they type CONFIRM in "
                  "the card. Tell them so and wait; do not call this tool again for the same request.")


async def _card(the_gate: ApprovalGate, journal: Journal) -> tuple[CallToolResult, str, str]:
    result = await the_gate.approve(request(journal), asker("apps"))
    assert isinstance(result, CallToolResult)
    creds = result.meta[APPROVAL_META_KEY]
    return result, creds["approval_id"], creds["secret"]


async def test_the_card_shows_the_preview_and_keeps_the_secret_out_of_the_text():
    the_gate, _ = gate()
    result, approval_id, secret = await _card(the_gate, Journal())
    assert result.is_error is False
    shown = dict(result.structured_content)
    summary, code, expires_at = shown.pop("summary"), shown.pop("code"), shown.pop("expires_at")
    assert shown == {"status": "approval_pending", "approval_id": approval_id, "preview": PREVIEW, "expires_in_seconds": 300}
    # the card gets the server's summary as data, the short code and the absolute expiry
    assert summary["headline"] == PREVIEW.splitlines()[0] and summary["details"] == PREVIEW
    assert code == request_code(approval_id) and expires_at.endswith(" UTC")
    body = json.loads(result.content[0].text)
    assert body == {"status": "approval_pending", "sent": False, "approval_id": approval_id, "preview": PREVIEW,
                    "expires_in_seconds": 300, "next_step": CARD_NEXT_STEP}
    assert secret not in result.content[0].text and secret not in json.dumps(result.structured_content)


async def test_a_card_approved_by_the_human_grants_once_for_its_session():
    the_gate, _ = gate()
    journal = Journal()
    _, approval_id, secret = await _card(the_gate, journal)
    assert await the_gate.decide_from_card(approval_id, secret, approve=True, session="http:other") is None
    pending = await the_gate.decide_from_card(approval_id, secret, approve=True, session="http:abc")
    assert pending is not None and pending.approval_id == approval_id  # the server re-runs the call from it:
    assert (pending.tool, pending.arguments, pending.digest) == ("cancel_open_orders", {"symbol": "BTCUSDT"}, DIGEST)
    grant = Grant(Channel.APP, approval_id)
    assert await the_gate.approve(request(journal), asker("apps"), grant=grant) is grant
    exc = await refused(the_gate, request(journal), asker("apps"), grant=grant)
    assert said(exc) == (INVALID, ("The approval does not match this request any more (arguments, account, key or "
                         "session changed), or it was already used or has expired."), None)
    assert journal.lines == [(INVALID, "app")]


@pytest.mark.parametrize("reason", [DECLINED, WRONG_TEXT])
async def test_a_card_refused_by_the_human_is_journaled_once_with_its_reason(reason):
    the_gate, _ = gate()
    journal = Journal()
    _, approval_id, secret = await _card(the_gate, journal)
    assert await the_gate.decide_from_card(approval_id, "wrong", approve=False, session="http:abc", reason=reason) is None
    assert journal.lines == []
    assert await the_gate.decide_from_card(approval_id, secret, approve=False, session="http:abc", reason=reason) is None
    assert await the_gate.decide_from_card(approval_id, secret, approve=False, session="http:abc", reason=reason) is None
    assert journal.lines == [(reason, "app")]
    await the_gate.journal_open_cards()
    assert journal.lines == [(reason, "app")]


async def test_a_card_declined_without_a_reason_is_journaled_as_declined():
    the_gate, _ = gate()
    journal = Journal()
    _, approval_id, secret = await _card(the_gate, journal)
    await the_gate.decide_from_card(approval_id, secret, approve=False, session="http:abc")
    assert journal.lines == [(DECLINED, "app")]


async def test_an_unanswered_card_is_journaled_as_timed_out_once_after_five_minutes():
    the_gate, clock = gate()
    journal = Journal()
    await _card(the_gate, journal)
    await the_gate.journal_expired_cards()
    assert journal.lines == []
    clock.now += 300
    await the_gate.journal_expired_cards()
    await the_gate.journal_expired_cards()
    await the_gate.journal_open_cards()
    assert journal.lines == [(TIMED_OUT, "app")]


async def test_an_expired_card_is_journaled_when_the_gate_next_runs():
    the_gate, clock = gate()
    journal = Journal()
    _, approval_id, secret = await _card(the_gate, journal)
    clock.now += 301
    assert await the_gate.decide_from_card(approval_id, secret, approve=True, session="http:abc") is None
    assert journal.lines == [(TIMED_OUT, "app")]
    other = Journal()
    _, _second_id, _ = await _card(the_gate, other)
    clock.now += 301
    await refused(the_gate, request(Journal()), asker())
    assert other.lines == [(TIMED_OUT, "app")]


async def test_a_grant_re_entering_from_a_host_that_also_has_forms_is_journaled_as_the_card():
    the_gate, _ = gate()
    journal = Journal()
    exc = await refused(the_gate, request(journal), asker("form", "apps"), grant=Grant(Channel.APP, "0" * 16))
    assert exc.reason == INVALID and journal.lines == [(INVALID, "app")]


async def test_a_card_without_a_journal_can_still_be_decided():
    the_gate, _ = gate()
    for approve in (True, False):
        result = await the_gate.approve(request(on_refused=None), asker("apps"))
        creds = result.meta[APPROVAL_META_KEY]
        decided = await the_gate.decide_from_card(creds["approval_id"], creds["secret"], approve=approve,
                                                  session="http:abc")
        assert (decided is not None) is approve


async def test_expired_cards_are_journaled_once_even_when_journaling_interleaves():
    """Another gate call (here: the first journal write itself) journals expired cards while this
    one is still going through them: each card is still journaled once, and nothing fails."""
    the_gate, clock = gate()
    second = Journal()
    first_lines: list[tuple[str, str]] = []

    async def first(reason: str, channel: str) -> None:
        first_lines.append((reason, channel))
        await the_gate.journal_expired_cards()  # another call of the gate, while this write is pending

    await the_gate.approve(request(on_refused=first), asker("apps"))
    await _card(the_gate, second)
    clock.now += 301
    await the_gate.journal_expired_cards()
    assert first_lines == [(TIMED_OUT, "app")] and second.lines == [(TIMED_OUT, "app")]


async def test_a_card_declined_while_the_server_stops_is_journaled_once_as_declined():
    the_gate, _ = gate()
    second = Journal()
    first_lines: list[tuple[str, str]] = []
    _, second_id, second_secret = await _card(the_gate, second)

    async def first(reason: str, channel: str) -> None:
        first_lines.append((reason, channel))  # while this is written, the human declines the other card
        await the_gate.decide_from_card(second_id, second_secret, approve=False, session="http:abc")

    await the_gate.approve(request(on_refused=first), asker("apps"))
    the_gate._card_refusals = dict(reversed(list(the_gate._card_refusals.items())))  # the first card first
    await the_gate.journal_open_cards()
    assert first_lines == [(CANCELLED, "app")] and second.lines == [(DECLINED, "app")]


async def test_cards_open_at_shutdown_are_cancelled_and_journaled_as_cancelled():
    the_gate, clock = gate()
    first, second = Journal(), Journal()
    _, _first_id, _first_secret = await _card(the_gate, first)
    clock.now += 200
    _, second_id, _ = await _card(the_gate, second)
    clock.now += 150  # the first card has expired, the second is still open
    await the_gate.journal_open_cards()
    assert first.lines == [(TIMED_OUT, "app")] and second.lines == [(CANCELLED, "app")]
    assert the_gate.book.status(second_id) is Status.DECLINED
    assert await the_gate.decide_from_card(second_id, "x", approve=True, session="http:abc") is None


