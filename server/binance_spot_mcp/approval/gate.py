"""Who may approve a change, and through which channel (invariant 2).

A change needs approval when it changes state and its request can reach real money: the
account's label or its destination host is mainnet (``needs_approval``). The channel is chosen
per call from what the host declared, in this order:

1. ``form``: a form elicitation shown by the host (handshake era: pushed mid-call and awaited;
   modern era: an ``InputRequiredResult`` whose sealed ``request_state`` names the request);
2. ``url``: a URL elicitation pointing at a one-time loopback page (``page``) where the
   human reads the preview and types CONFIRM; the call then completes;
3. ``app``: the MCP Apps confirmation card (``card``); the card's app-only tool approves
   and the request is sent from there;
4. ``chat``: CONFIRM typed in the chat and relayed by the model with a single-use token -- only
   where the operator opted in (``--allow-chat-confirm`` or ``Chat Confirm: true`` on the
   account) and never with ``--require-elicitation``. It is only as trustworthy as the model.

With none of these the change is refused and nothing is sent. Every channel binds the approval to
one request digest (``approvals.request_digest``) and is single-use with a 5-minute expiry.

Every channel shows the same ``summary.Summary`` (the form's text, the page, the card; the URL
prompt names the page's short request code). What happened to an approved request afterwards is
kept on its page or card record (``watch``), so a reopened page and the card tell the truth
(``card_outcome``).

Every refusal -- declined, cancelled, timed out, wrong text, no channel, a stale or invalid
approval -- is reported to the request's ``on_refused`` (the server journals it as an intent and
an outcome with ``not_sent``, so it never counts toward a daily total). ``Refused`` carries the
reason code (``REASONS``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from mcp.types import (
    CallToolResult,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    InputRequiredResult,
    TextContent,
)

from binance_spot_mcp.approval.asker import Asker, question
from binance_spot_mcp.approval.book import (
    WRONG_TEXT_NOTE,
    ApprovalBook,
    Channel,
    Grant,
    PendingApproval,
    Status,
    TooManyPending,
    request_code,
)
from binance_spot_mcp.approval.card import card_meta
from binance_spot_mcp.approval.confirm import (
    APPROVE_INPUT_KEY,
    CONFIRM_INPUT_KEY,
    CONFIRM_SCHEMA,
    ELICITATION_TIMEOUT_S,
    STATE_TTL_S,
    TOKEN_TTL_S,
    ConfirmationTokens,
    NonceBook,
    PendingState,
    TokenCheck,
    is_confirm_text,
)
from binance_spot_mcp.approval.outcome import Outcome, State, for_card, watched
from binance_spot_mcp.approval.page import ApprovalPage, clock_time
from binance_spot_mcp.approval.summary import Summary
from binance_spot_mcp.errors import NotConfirmed
from binance_spot_mcp.redact import Redactor
from binance_spot_mcp.results import dumps, json_result

__all__ = ["Asker", "question"]  # offered here too (they lived here first)

logger = logging.getLogger(__name__)

# why nothing was sent, as the journal records it (outcome summary ``not_sent``)
DECLINED = "approval_declined"
CANCELLED = "approval_cancelled"
TIMED_OUT = "approval_timed_out"
WRONG_TEXT = "approval_wrong_text"
NO_CHANNEL = "no_approval_channel"
INVALID = "approval_invalid"  # stale, already used, for another request, or a bad token
FAILED = "approval_failed"  # the question could not be asked (prompt failed, page down, too many open)
REASONS = (DECLINED, CANCELLED, TIMED_OUT, WRONG_TEXT, NO_CHANNEL, INVALID, FAILED)

RefusalRecorder = Callable[[str, str], Awaitable[None]]  # (reason, channel) -> journaled
T = TypeVar("T")
NOT_SENT_OUTCOME = Outcome(State.NOT_SENT, "Not sent: the assistant's request ended before it could use this approval.")


async def summary_of(request: ApprovalRequest) -> Summary:
    """The request's summary (a plain preview text becomes one)."""
    shown = await request.preview()
    return shown if isinstance(shown, Summary) else Summary.plain(shown)


def url_message(pending: PendingApproval) -> str:
    """The host's prompt for the page: the short code (also on the page) and the headline."""
    summary = pending.summary if isinstance(pending.summary, Summary) else Summary.plain(pending.preview)
    where = f" [{summary.environment}]" if summary.environment else ""
    return (
        f"Binance request {request_code(pending.approval_id)}{where}: {summary.headline}. Open the link, check that "
        f"the page shows the code {request_code(pending.approval_id)}, and type CONFIRM there only if you want it sent. "
        f"The link works once, until {clock_time(pending.expires_wall)}."
    )


class Refused(NotConfirmed):
    """No human approval: ``reason`` is one of ``REASONS``."""

    def __init__(self, reason: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


def _answered(action: str) -> str:
    return CANCELLED if action == "cancel" else DECLINED


NO_CHANNEL_HINT = (
    "Use an MCP host that shows approval prompts (form or URL elicitation) or MCP Apps cards, or place the "
    "order yourself on binance.com. The operator can instead allow CONFIRM typed in the chat "
    "(--allow-chat-confirm, or 'Chat Confirm: true' on the account), which is only as trustworthy as the model."
)
ADD_ACCOUNT_NO_CHANNEL_HINT = (
    "Use an MCP host that shows approval prompts (form or URL elicitation) or MCP Apps cards, or add the "
    "account yourself in a terminal: binance-spot-mcp accounts add NAME --environment mainnet (it asks for "
    "the key without echo)."
)


def no_channel_hint(tool: str) -> str:
    """What to do when no human can approve: for ``add_account``, the command line; else another host."""
    return ADD_ACCOUNT_NO_CHANNEL_HINT if tool == "add_account" else NO_CHANNEL_HINT


@dataclass(frozen=True)
class ApprovalRequest:
    """One change waiting for a human: what it is bound to and how to describe it."""

    tool: str
    arguments: Mapping[str, Any]  # as the model gave them (the card re-runs the call with these)
    digest: str  # approvals.request_digest of everything the approval is bound to
    account: str
    chat_allowed: bool  # the operator opted in to the chat path for this account or server
    preview: Callable[[], Awaitable[str | Summary]]  # the server's summary (a plain text also does)
    confirm: str | None = None  # the model's relayed CONFIRM (chat path only)
    token: str | None = None  # the chat path's confirmation_token
    on_refused: RefusalRecorder | None = None  # journals a refusal (reason, channel)


class ApprovalGate:
    """Runs one approval through the best channel the host offers. See the module docstring."""

    def __init__(self, *, redactor: Redactor, require_elicitation: bool) -> None:
        self.redactor = redactor
        self.require_elicitation = require_elicitation
        self.nonces = NonceBook()
        self.tokens = ConfirmationTokens(self.nonces, ttl_s=TOKEN_TTL_S)
        self.book = ApprovalBook()
        self.page = ApprovalPage(self.book)
        self.elicitation_timeout_s = ELICITATION_TIMEOUT_S
        self._card_refusals: dict[str, RefusalRecorder] = {}  # open cards: who journals their refusal

    def __repr__(self) -> str:
        return f"ApprovalGate(require_elicitation={self.require_elicitation})"

    def close(self) -> None:
        self.page.close()

    def channel_for(self, asker: Asker, chat_allowed: bool) -> Channel | None:
        if asker.can_form:
            return Channel.FORM
        if asker.can_url:
            return Channel.URL
        if asker.can_apps:
            return Channel.APP
        if chat_allowed and not self.require_elicitation:
            return Channel.CHAT
        return None

    async def approve(
        self, request: ApprovalRequest, asker: Asker, *, grant: Grant | None = None
    ) -> Grant | CallToolResult | InputRequiredResult:
        """A ``Grant`` when a human approved exactly this request; else what to return instead.
        Raises ``Refused`` when the answer is no (or no human can be asked), after reporting it to
        ``request.on_refused``."""
        await self.journal_expired_cards()
        channel = Channel.APP if grant is not None else self.channel_for(asker, request.chat_allowed)
        try:
            return await self._approve(request, asker, channel, grant)
        except NotConfirmed as exc:
            reason = exc.reason if isinstance(exc, Refused) else INVALID
            await _report(request.on_refused, reason, channel.value if channel is not None else "none")
            raise

    async def _approve(
        self, request: ApprovalRequest, asker: Asker, channel: Channel | None, grant: Grant | None
    ) -> Grant | CallToolResult | InputRequiredResult:
        if grant is not None:  # re-entry from the MCP Apps card, after its approve_request
            if self.book.redeem(grant.approval_id, request.digest, asker.session) is None:
                raise Refused(
                    INVALID,
                    "The approval does not match this request any more (arguments, account, key or session "
                    "changed), or it was already used or has expired.",
                )
            return grant
        if channel is Channel.FORM:
            return await self._form(request, asker)
        if channel is Channel.URL:
            return await self._url(request, asker)
        if channel is Channel.APP:
            return await self._card(request, asker)
        if channel is Channel.CHAT:
            return await self._chat(request)
        if self.require_elicitation:
            raise Refused(
                NO_CHANNEL,
                "This server is set to require an approval prompt (--require-elicitation), and this host "
                "cannot show one.",
                hint=no_channel_hint(request.tool),
            )
        raise Refused(
            NO_CHANNEL,
            "This change needs a human's approval, and this host offers no channel the model cannot drive "
            "(form or URL elicitation, or an MCP Apps card).",
            hint=no_channel_hint(request.tool),
        )

    # -- form -----------------------------------------------------------------------------------

    async def _form(self, request: ApprovalRequest, asker: Asker) -> Grant | InputRequiredResult:
        if asker.modern:
            state = asker.state
            if state is None or state.step != "confirm":
                nonce = self.nonces.issue(STATE_TTL_S)
                ask = ElicitRequestFormParams(message=(await summary_of(request)).text(), requested_schema=CONFIRM_SCHEMA)
                return question(CONFIRM_INPUT_KEY, ask, PendingState("confirm", nonce, request.account, request.digest))
            self._check_state(state, request)
            answer = asker.answer(CONFIRM_INPUT_KEY)
            approval_id = state.nonce[:16]
        else:
            try:
                text = (await summary_of(request)).text()
                answer = await asker.push(text, CONFIRM_SCHEMA, self.elicitation_timeout_s)
            except Exception as exc:  # noqa: BLE001 - any failure to ask means: not approved
                raise Refused(FAILED, f"The approval prompt failed ({type(exc).__name__}).") from None
            if answer is None:
                raise Refused(TIMED_OUT, "No answer to the approval prompt within 5 minutes.")
            approval_id = secrets.token_hex(8)
        if answer is None:
            raise Refused(CANCELLED, "No answer to the approval question came back.")
        if answer.action != "accept":
            raise Refused(_answered(answer.action), f"The human did not approve (they chose {answer.action}).")
        if not is_confirm_text((answer.content or {}).get(CONFIRM_INPUT_KEY)):
            raise Refused(WRONG_TEXT, "The text typed was not CONFIRM.")
        return Grant(Channel.FORM, approval_id)

    def _check_state(self, state: PendingState, request: ApprovalRequest) -> None:
        if state.digest != request.digest or state.account != request.account:
            raise Refused(INVALID, "The approval was given for a different request (account, key or arguments changed).")
        expired = self.nonces.expired(state.nonce)
        if not self.nonces.spend(state.nonce):
            raise Refused(TIMED_OUT if expired else INVALID, "That approval was already used or has expired (5 minutes).")

    # -- url ------------------------------------------------------------------------------------

    async def _new_page(self, request: ApprovalRequest, asker: Asker) -> tuple[PendingApproval, str]:
        """A URL-channel record and its one-time link (the page server starts off the event loop)."""
        summary = await summary_of(request)
        try:
            pending = self.book.create(
                channel=Channel.URL, tool=request.tool, arguments=request.arguments, digest=request.digest,
                preview=summary.text(), session=asker.session, summary=summary,
            )
        except TooManyPending as exc:
            raise Refused(FAILED, f"Too many approvals are waiting ({exc}).", hint="Let the human answer those first.") from None
        try:
            url = await anyio.to_thread.run_sync(self.page.url_for, pending)
        except OSError as exc:
            self.book.cancel(pending.approval_id, "the page could not be served")
            raise Refused(FAILED, f"The approval page could not be started ({type(exc).__name__}).") from None
        return pending, url

    async def _url(self, request: ApprovalRequest, asker: Asker) -> Grant | InputRequiredResult:
        assert asker.ctx is not None
        if asker.modern:
            state = asker.state
            if state is None or state.step != "approve" or not state.approval:
                pending, url = await self._new_page(request, asker)
                nonce = self.nonces.issue(STATE_TTL_S)
                state = PendingState("approve", nonce, request.account, request.digest, pending.approval_id)
                return question(APPROVE_INPUT_KEY, ElicitRequestURLParams(message=url_message(pending), url=url), state)
            self._check_state(state, request)
            approval_id = state.approval
        else:
            pending, url = await self._new_page(request, asker)
            approval_id = pending.approval_id
            message = url_message(pending)
        redeemed = False
        try:  # whatever ends this call (a no, a timeout, a cancellation), the link dies with it
            if asker.modern:
                answer = asker.answer(APPROVE_INPUT_KEY)
            else:
                answer = None
                try:
                    with anyio.move_on_after(self.elicitation_timeout_s):
                        answer = await asker.ctx.session.elicit_url(
                            message, url, approval_id, related_request_id=asker.ctx.request_id
                        )
                except Exception as exc:  # noqa: BLE001 - any failure to ask means: not approved
                    raise Refused(FAILED, f"The approval prompt failed ({type(exc).__name__}).") from None
            if answer is None or answer.action != "accept":
                chose = answer.action if answer is not None else "no answer in time"
                reason = _answered(answer.action) if answer is not None else TIMED_OUT
                raise Refused(reason, f"The approval page was not opened ({chose}).")
            status = await self.book.wait_decided(approval_id, self.elicitation_timeout_s)
            if status is Status.PENDING:
                raise Refused(TIMED_OUT, "No decision was made on the approval page within 5 minutes.")
            if status is not Status.APPROVED:
                raise Refused(
                    self._page_reason(approval_id, status),
                    "The request was not approved on the approval page (declined, wrong text or expired).",
                )
            if self.book.redeem(approval_id, request.digest, asker.session) is None:
                raise Refused(INVALID, "That approval does not match this request, or was already used.")
            redeemed = True
        finally:
            if not redeemed:
                self.book.cancel(approval_id, "the call ended without a usable approval")
                self.book.record_outcome(approval_id, NOT_SENT_OUTCOME)
        if not asker.modern:
            try:
                await asker.ctx.session.send_elicit_complete(approval_id, related_request_id=asker.ctx.request_id)
            except Exception:
                logger.debug("could not send elicitation/complete", exc_info=True)
        return Grant(Channel.URL, approval_id)

    def _page_reason(self, approval_id: str, status: Status | None) -> str:
        if status is Status.DECLINED:
            return WRONG_TEXT if self.book.note(approval_id) == WRONG_TEXT_NOTE else DECLINED
        return TIMED_OUT if status in (None, Status.EXPIRED) else INVALID

    # -- MCP Apps card --------------------------------------------------------------------------

    async def _card(self, request: ApprovalRequest, asker: Asker) -> CallToolResult:
        summary = await summary_of(request)
        text = summary.text()
        try:
            pending = self.book.create(
                channel=Channel.APP, tool=request.tool, arguments=request.arguments, digest=request.digest,
                preview=text, session=asker.session, summary=summary,
            )
        except TooManyPending as exc:
            raise Refused(FAILED, f"Too many approvals are waiting ({exc}).", hint="Let the human answer those first.") from None
        payload = {
            "status": "approval_pending",
            "sent": False,
            "approval_id": pending.approval_id,
            "preview": text,
            "expires_in_seconds": int(pending.expires_at - self.book.now()),
            "next_step": (
                "The human sees a confirmation card with this preview. Nothing is sent unless they type CONFIRM "
                "in the card. Tell them so and wait; do not call this tool again for the same request."
            ),
        }
        if request.on_refused is not None:
            self._card_refusals[pending.approval_id] = request.on_refused
        shown = {k: payload[k] for k in ("status", "approval_id", "preview", "expires_in_seconds")}
        shown.update(summary=summary.as_dict(), code=request_code(pending.approval_id),
                     expires_at=clock_time(pending.expires_wall))
        return CallToolResult(
            content=[TextContent(type="text", text=self.redactor.redact(dumps(payload)))],
            structured_content=shown,
            is_error=False,
            _meta=card_meta(pending.approval_id, pending.secret),
        )

    async def decide_from_card(
        self, approval_id: str, secret: str, *, approve: bool, session: str | None, reason: str = DECLINED
    ) -> Any:
        """The card's decision; the pending approval (to re-run) when approved, None otherwise. A
        refusal (``reason``: declined or wrong text) is journaled through the card's request."""
        await self.journal_expired_cards()
        pending = self.book.lookup(approval_id, secret, Channel.APP)
        if pending is None or pending.session != session:
            return None
        status = self.book.decide(approval_id, secret, channel=Channel.APP, approve=approve)
        recorder = self._card_refusals.pop(approval_id, None) if status is not None else None
        if status is Status.APPROVED:
            return pending
        await _report(recorder, reason if not approve else INVALID, Channel.APP.value)
        return None

    async def journal_expired_cards(self) -> None:
        """Journal the cards nobody answered within their 5 minutes (found whenever the gate runs)."""
        for approval_id in list(self._card_refusals):
            if self.book.status(approval_id) in (None, Status.EXPIRED):
                await _report(self._card_refusals.pop(approval_id, None), TIMED_OUT, Channel.APP.value)

    async def journal_open_cards(self) -> None:
        """At shutdown: cards still waiting can no longer be answered; journaled as cancelled."""
        await self.journal_expired_cards()
        for approval_id in list(self._card_refusals):
            self.book.cancel(approval_id, "the server stopped")
            await _report(self._card_refusals.pop(approval_id, None), CANCELLED, Channel.APP.value)

    # -- what happened afterwards ---------------------------------------------------------------

    def report(self, grant: Grant | None, outcome: Outcome) -> None:
        """Keep what happened to an approved request on its page or card record (URL, card)."""
        if grant is not None and grant.via in (Channel.URL, Channel.APP):
            self.book.record_outcome(grant.approval_id, outcome)

    async def watch(self, grant: Grant | None, result: Awaitable[T]) -> T:
        """Await the send of an approved request and keep its outcome for the page and the card."""
        return await watched(result, lambda outcome: self.report(grant, outcome), self.redactor)

    def card_outcome(self, approval_id: str, result: CallToolResult) -> CallToolResult:
        """``approve_request``'s result with what happened, for the card (``outcome.for_card``)."""
        return for_card(result, self.book.outcome_of(approval_id))

    # -- chat (operator opt-in) -----------------------------------------------------------------

    async def _chat(self, request: ApprovalRequest) -> Grant | CallToolResult:
        if request.token is not None:
            if not is_confirm_text(request.confirm):
                raise Refused(WRONG_TEXT, "'confirm' must be CONFIRM, exactly as the human typed it.")
            check = self.tokens.check(request.token, request.digest)
            if check is TokenCheck.RESTARTED:
                raise Refused(
                    INVALID,
                    "That confirmation token was issued before the server restarted, so it no longer works.",
                    hint="Call the tool again without confirm/confirmation_token to get a fresh preview.",
                )
            if check is not TokenCheck.OK:
                raise Refused(
                    INVALID,
                    "The confirmation token is invalid, already used, expired (2 minutes) or was issued for another "
                    "request (arguments, account, key or session).",
                    hint="Call the tool again without confirm/confirmation_token to get a fresh preview.",
                )
            return Grant(Channel.CHAT, request.token.split(".")[1][:16])
        token = self.tokens.issue(request.digest)
        payload = {
            "status": "confirmation_required",
            "sent": False,
            "preview": (await summary_of(request)).text(),
            "confirmation_token": token,
            "expires_in_seconds": int(TOKEN_TTL_S),
            "trust": (
                "The operator allowed CONFIRM typed in the chat for this account. Such an approval is only as "
                "trustworthy as the model relaying it."
            ),
            "next_step": (
                "Show the preview to the user word for word and ask them to type CONFIRM. Only if they type it, "
                f"call {request.tool} again with exactly the same arguments plus confirm='CONFIRM' and this "
                "confirmation_token. The token works once."
            ),
        }
        return json_result(payload, error=False, redactor=self.redactor)


async def _report(recorder: RefusalRecorder | None, reason: str, channel: str) -> None:
    """Journal a refusal; a journal that cannot be written is logged, never hides the refusal."""
    if recorder is None:
        return
    try:
        await recorder(reason, channel)
    except Exception:  # the refusal stands whatever the journal does
        logger.warning("could not journal an approval refusal (%s)", reason, exc_info=True)
