"""The approval gate without a server (issue 22, mutation run of ``approval.gate``): which channel a
host's declared capabilities pick, and for each channel every answer's outcome -- the grant, or the
refusal's reason code, the words the user reads, its hint and what is journaled (reason, channel).

The host is a fake ``ctx`` (declared capabilities, scripted answers); the URL page is a stub that
hands out links without serving them (``test_approval_page*.py`` test the page itself); clocks are
fakes. The only waits are the gate's own elicitation timeout, set to a few milliseconds.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import pytest
from mcp.types import (
    CallToolRequestParams,
    CallToolResult,
    ElicitResult,
    InputRequiredResult,
    ListRootsResult,
)

from binance_spot_mcp.approval.book import Channel, Grant
from binance_spot_mcp.approval.confirm import CONFIRM_SCHEMA, PendingState
from binance_spot_mcp.approval.gate import (
    CANCELLED,
    DECLINED,
    FAILED,
    INVALID,
    NO_CHANNEL,
    NO_CHANNEL_HINT,
    TIMED_OUT,
    WRONG_TEXT,
    ApprovalGate,
    Asker,
)
from binance_spot_mcp.errors import NotConfirmed
from binance_spot_mcp.redact import Redactor
from tests.approval.gate_fakes import (
    DIGEST,
    FRESH,
    PREVIEW,
    Ctx,
    Journal,
    Session,
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

# --- which channel -------------------------------------------------------------------------------


@pytest.mark.parametrize(("channels", "bare", "chat", "locked", "expected"), [
    (("form", "url", "apps"), False, True, False, Channel.FORM),
    ((), True, False, False, Channel.FORM),  # a bare `elicitation: {}` (older shape) means form
    (("url", "apps"), False, True, False, Channel.URL),
    (("apps",), False, True, False, Channel.APP),
    ((), False, True, False, Channel.CHAT),
    ((), False, True, True, None),  # --require-elicitation closes the chat path
    ((), False, False, False, None),
], ids=["all", "bare", "url", "apps", "chat", "chat-locked", "nothing"])
def test_the_channel_is_the_first_the_host_declared(channels, bare, chat, locked, expected):
    the_gate, _ = gate(require_elicitation=locked)
    assert the_gate.channel_for(asker(*channels, bare=bare), chat) is expected


def test_an_asker_without_a_request_context_offers_nothing():
    nobody = Asker(None, None)
    assert (nobody.can_form, nobody.can_url, nobody.can_apps, nobody.modern) == (False, False, False, False)
    assert nobody.session is None and nobody.state is None and nobody.answer("confirm") is None


def test_an_odd_capability_shape_means_no_apps():
    class Odd:
        elicitation = None

        @property
        def extensions(self) -> Any:
            raise ValueError("odd")

    assert Asker(Ctx(Session(Odd())), None).can_apps is False
    assert asker("apps").can_apps is True and asker("form").can_apps is False


def test_the_era_and_the_session_come_from_the_context():
    assert asker(modern=True).modern is True and asker().modern is False
    assert asker().session == "http:abc"


def test_an_answer_must_be_an_elicitation_result():
    params = CallToolRequestParams(name="x", arguments={}, input_responses={"confirm": ElicitResult(action="accept")})
    assert asker(params=params).answer("confirm") == ElicitResult(action="accept")
    assert asker(params=params).answer("approve") is None
    assert asker(params=CallToolRequestParams(name="x", arguments={})).answer("confirm") is None


def test_a_session_that_declared_nothing_offers_nothing():
    blank = Asker(Ctx(Session(None)), None)
    assert (blank.can_form, blank.can_url, blank.can_apps) == (False, False, False)
    assert gate()[0].channel_for(blank, False) is None


def test_an_answer_of_another_kind_is_no_answer():
    other = CallToolRequestParams(name="x", arguments={}, input_responses={"confirm": ListRootsResult(roots=[])})
    assert asker(params=other).answer("confirm") is None


def test_the_gate_waits_five_minutes_for_a_human():
    assert ApprovalGate(redactor=Redactor(), require_elicitation=False).elicitation_timeout_s == 300


def test_the_gate_names_its_setting_and_closes_its_page():
    the_gate, _ = gate(require_elicitation=True)
    assert repr(the_gate) == "ApprovalGate(require_elicitation=True)"
    the_gate.close()
    assert the_gate.page.closed  # type: ignore[attr-defined]


# --- no channel ----------------------------------------------------------------------------------


async def test_without_a_channel_the_change_is_refused_and_journaled():
    journal = Journal()
    exc = await refused(gate()[0], request(journal), asker())
    assert said(exc) == (NO_CHANNEL, ("This change needs a human's approval, and this host offers no channel the model "
                         "cannot drive (form or URL elicitation, or an MCP Apps card)."), NO_CHANNEL_HINT)
    assert journal.lines == [(NO_CHANNEL, "none")]


async def test_require_elicitation_says_so_when_the_host_cannot_ask():
    journal = Journal()
    exc = await refused(gate(require_elicitation=True)[0], request(journal, chat_allowed=True), asker())
    assert said(exc) == (NO_CHANNEL, ("This server is set to require an approval prompt (--require-elicitation), and "
                         "this host cannot show one."), NO_CHANNEL_HINT)
    assert journal.lines == [(NO_CHANNEL, "none")]


async def test_a_not_confirmed_that_is_no_refusal_is_journaled_as_invalid():
    journal = Journal()

    async def preview() -> str:
        raise NotConfirmed("no preview")

    with pytest.raises(NotConfirmed):
        await gate()[0].approve(request(journal, preview=preview, chat_allowed=True), asker())
    assert journal.lines == [(INVALID, "chat")]


async def test_a_journal_that_fails_never_hides_the_refusal(caplog):
    async def broken(reason: str, channel: str) -> None:
        raise OSError("disk full")

    caplog.set_level(logging.WARNING)
    exc = await refused(gate()[0], request(on_refused=broken), asker())
    assert exc.reason == NO_CHANNEL
    [record] = [r for r in caplog.records if r.name == "binance_spot_mcp.approval.gate"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "could not journal an approval refusal (no_approval_channel)"
    assert record.exc_info is not None and "disk full" in caplog.text


# --- form ----------------------------------------------------------------------------------------


async def test_a_form_approval_grants_once_after_showing_the_preview():
    the_gate, _ = gate()
    ask = asker("form", answer=typed("CONFIRM"))
    with anyio.fail_after(10):
        grant = await the_gate.approve(request(), ask)
    assert isinstance(grant, Grant) and grant.via is Channel.FORM and len(grant.approval_id) == 16
    assert ask.ctx.session.asked == [(PREVIEW, CONFIRM_SCHEMA, 41)]


@pytest.mark.parametrize(("answer", "expected"), [
    (typed(None, "decline"), (DECLINED, "The human did not approve (they chose decline).", None)),
    (typed("CONFIRM", "cancel"), (CANCELLED, "The human did not approve (they chose cancel).", None)),
    (typed("CONFIRMED"), (WRONG_TEXT, "The text typed was not CONFIRM.", None)),
    (typed(None), (WRONG_TEXT, "The text typed was not CONFIRM.", None)),
    (RuntimeError("boom"), (FAILED, "The approval prompt failed (RuntimeError).", None)),
    ("hang", (TIMED_OUT, "No answer to the approval prompt within 5 minutes.", None)),
], ids=["decline", "cancel", "wrong-text", "no-content", "prompt-fails", "no-answer"])
async def test_a_form_answer_that_is_not_confirm_refuses(answer, expected):
    journal = Journal()
    exc = await refused(gate()[0], request(journal), asker("form", answer=answer))
    assert said(exc) == expected
    assert journal.lines == [(expected[0], "form")]


async def test_the_modern_form_asks_then_grants_for_the_same_request_once():
    the_gate, _ = gate()
    journal = Journal()
    question = await modern_question(the_gate, request(journal), "form")
    ask = question.input_requests["confirm"].params
    assert ask.message == PREVIEW and ask.requested_schema == CONFIRM_SCHEMA
    state = PendingState.decode(question.request_state)
    assert (state.step, state.account, state.digest) == ("confirm", "live", DIGEST)
    answered = asker("form", modern=True, params=params(state, typed(" CONFIRM ")))
    grant = await the_gate.approve(request(journal), answered)
    assert grant == Grant(Channel.FORM, state.nonce[:16])
    again = await refused(the_gate, request(journal), answered)
    assert said(again) == (INVALID, "That approval was already used or has expired (5 minutes).", None)
    assert journal.lines == [(INVALID, "form")]


@pytest.mark.parametrize("change", ["digest", "account"])
async def test_a_modern_form_state_for_another_request_is_invalid(change):
    the_gate, _ = gate()
    question = await modern_question(the_gate, request(), "form")
    state = PendingState.decode(question.request_state)
    other = request(**({"digest": "e" * 64} if change == "digest" else {"account": "main"}))
    exc = await refused(the_gate, other, asker("form", modern=True, params=params(state, typed("CONFIRM"))))
    assert said(exc) == (INVALID, ("The approval was given for a different request (account, key or arguments "
                         "changed)."), None)


async def test_a_modern_form_answer_after_five_minutes_timed_out():
    the_gate, clock = gate()
    state = PendingState.decode((await modern_question(the_gate, request(), "form")).request_state)
    clock.now += 300
    journal = Journal()
    exc = await refused(the_gate, request(journal), asker("form", modern=True, params=params(state, typed("CONFIRM"))))
    assert said(exc) == (TIMED_OUT, "That approval was already used or has expired (5 minutes).", None)
    assert journal.lines == [(TIMED_OUT, "form")]


async def test_a_modern_form_answered_with_something_else_is_cancelled():
    the_gate, _ = gate()
    state = PendingState.decode((await modern_question(the_gate, request(), "form")).request_state)
    other = CallToolRequestParams(name="x", arguments={}, request_state=state.encode(),
                                  input_responses={"confirm": ListRootsResult(roots=[])})
    exc = await refused(the_gate, request(), asker("form", modern=True, params=other))
    assert said(exc) == (CANCELLED, "No answer to the approval question came back.", None)


async def test_a_modern_form_state_without_an_answer_is_cancelled():
    the_gate, _ = gate()
    state = PendingState.decode((await modern_question(the_gate, request(), "form")).request_state)
    exc = await refused(the_gate, request(), asker("form", modern=True, params=params(state, None)))
    assert said(exc) == (CANCELLED, "No answer to the approval question came back.", None)


async def test_a_modern_state_of_another_step_asks_afresh():
    the_gate, _ = gate()
    state = PendingState("approve", "n" * 22, "live", DIGEST, "a" * 16)
    result = await the_gate.approve(request(), asker("form", modern=True, params=params(state, typed("CONFIRM"))))
    assert isinstance(result, InputRequiredResult) and "confirm" in result.input_requests


# --- chat ----------------------------------------------------------------------------------------


CHAT_TRUST = ("The operator allowed CONFIRM typed in the chat for this account. Such an approval is only as "
              "trustworthy as the model relaying it.")


async def _token(the_gate: ApprovalGate) -> str:
    result = await the_gate.approve(request(chat_allowed=True), asker())
    assert isinstance(result, CallToolResult) and result.is_error is False
    body = json.loads(result.content[0].text)
    token = body["confirmation_token"]
    assert body == {
        "status": "confirmation_required", "sent": False, "preview": PREVIEW,
        "confirmation_token": token, "expires_in_seconds": 120, "trust": CHAT_TRUST,
        "next_step": "Show the preview to the user word for word and ask them to type CONFIRM. Only if they type it, "
                     "call cancel_open_orders again with exactly the same arguments plus confirm='CONFIRM' and this "
                     "confirmation_token. The token works once.",
    }
    return token


async def test_chat_gives_a_token_then_grants_once_for_confirm():
    the_gate, _ = gate()
    token = await _token(the_gate)
    grant = await the_gate.approve(request(chat_allowed=True, confirm=" CONFIRM", token=token), asker())
    assert grant == Grant(Channel.CHAT, token.split(".")[1][:16])
    journal = Journal()
    exc = await refused(the_gate, request(journal, chat_allowed=True, confirm="CONFIRM", token=token), asker())
    assert said(exc) == (INVALID, ("The confirmation token is invalid, already used, expired (2 minutes) or was "
                         "issued for another request (arguments, account, key or session)."), FRESH)
    assert journal.lines == [(INVALID, "chat")]


async def test_chat_refuses_anything_but_confirm_before_spending_the_token():
    the_gate, _ = gate()
    token = await _token(the_gate)
    journal = Journal()
    exc = await refused(the_gate, request(journal, chat_allowed=True, confirm="confirm", token=token), asker())
    assert said(exc) == (WRONG_TEXT, "'confirm' must be CONFIRM, exactly as the human typed it.", None)
    assert journal.lines == [(WRONG_TEXT, "chat")]
    assert isinstance(await the_gate.approve(request(chat_allowed=True, confirm="CONFIRM", token=token), asker()), Grant)


async def test_a_chat_token_from_before_a_restart_says_so():
    earlier, _ = gate()
    token = await _token(earlier)
    now, _ = gate()
    exc = await refused(now, request(chat_allowed=True, confirm="CONFIRM", token=token), asker())
    assert said(exc) == (INVALID, ("That confirmation token was issued before the server restarted, so it no longer "
                         "works."), FRESH)
