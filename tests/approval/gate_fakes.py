"""Fakes for the approval gate's unit tests (``test_gate_unit.py``, ``test_gate_url_card.py``): a host
(declared capabilities, scripted answers), a URL page stub that hands out links without serving them,
fake clocks, and a journal that records (reason, channel).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp.types import (
    CallToolRequestParams,
    ClientCapabilities,
    ElicitationCapability,
    ElicitResult,
    FormElicitationCapability,
    InputRequiredResult,
    UrlElicitationCapability,
)

from binance_spot_mcp.approval.confirm import PendingState
from binance_spot_mcp.approval.gate import (
    ApprovalGate,
    ApprovalRequest,
    Asker,
    Refused,
)
from binance_spot_mcp.redact import Redactor

DIGEST = "d" * 64
PREVIEW = "Cancel all open orders on BTCUSDT\nAccount: live (MAINNET)"
MODERN, LEGACY = "2026-07-28", "2025-11-25"
SHORT_S = 0.05  # the gate's elicitation timeout in these tests
FRESH = "Call the tool again without confirm/confirmation_token to get a fresh preview."
TOO_MANY_HINT = "Let the human answer those first."


# --- fakes ---------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Connection:
    session_id: str | None = "abc"


@dataclass
class Session:
    """A host: what it declared, and what its human answers (an ElicitResult, an exception, "hang",
    or a function of the question)."""

    client_capabilities: Any
    answer: Any = None
    asked: list[tuple[Any, ...]] = field(default_factory=list)
    completed: list[tuple[str, Any]] = field(default_factory=list)
    complete_fails: bool = False
    _connection: Any = field(default_factory=Connection)

    async def _reply(self, *question: Any) -> ElicitResult | None:
        self.asked.append(question)
        if self.answer == "hang":
            await anyio.sleep_forever()
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer(*question) if callable(self.answer) else self.answer

    async def elicit_form(self, message: str, schema: dict, related_request_id: Any = None) -> Any:
        return await self._reply(message, schema, related_request_id)

    async def elicit_url(self, message: str, url: str, approval_id: str, related_request_id: Any = None) -> Any:
        return await self._reply(message, url, approval_id, related_request_id)

    async def send_elicit_complete(self, approval_id: str, related_request_id: Any = None) -> None:
        if self.complete_fails:
            raise RuntimeError("gone")
        self.completed.append((approval_id, related_request_id))


@dataclass
class Ctx:
    session: Session
    protocol_version: str = LEGACY
    request_id: Any = 41


def caps(*channels: str, bare: bool = False) -> ClientCapabilities:
    form = FormElicitationCapability() if "form" in channels else None
    url = UrlElicitationCapability() if "url" in channels else None
    elicitation = ElicitationCapability() if bare else (ElicitationCapability(form=form, url=url) if form or url else None)
    extensions = {EXTENSION_ID: {"mimeTypes": [APP_MIME_TYPE]}} if "apps" in channels else None
    return ClientCapabilities(elicitation=elicitation, extensions=extensions)


def asker(*channels: str, answer: Any = None, modern: bool = False, params: Any = None, bare: bool = False) -> Asker:
    session = Session(caps(*channels, bare=bare), answer=answer)
    return Asker(Ctx(session, MODERN if modern else LEGACY), params)


class StubPage:
    """Hands out links without serving them; ``fails`` makes starting the page fail."""

    def __init__(self) -> None:
        self.fails = False
        self.closed = False

    def url_for(self, pending: Any) -> str:
        if self.fails:
            raise OSError("no port")
        return f"http://127.0.0.1:9/approve/{pending.approval_id}/{pending.secret}"

    def close(self) -> None:
        self.closed = True


def gate(*, require_elicitation: bool = False) -> tuple[ApprovalGate, Clock]:
    clock = Clock()
    made = ApprovalGate(redactor=Redactor(), require_elicitation=require_elicitation)
    made.book._clock = clock
    made.nonces._clock = clock
    made.page = StubPage()  # type: ignore[assignment]
    made.elicitation_timeout_s = SHORT_S
    return made, clock


@dataclass
class Journal:
    lines: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, reason: str, channel: str) -> None:
        self.lines.append((reason, channel))


def request(journal: Journal | None = None, **overrides: Any) -> ApprovalRequest:
    async def preview() -> str:
        return PREVIEW

    fields: dict[str, Any] = {"tool": "cancel_open_orders", "arguments": {"symbol": "BTCUSDT"}, "digest": DIGEST,
                              "account": "live", "chat_allowed": False, "preview": preview,
                              "on_refused": journal if journal is not None else Journal()}
    fields.update(overrides)
    return ApprovalRequest(**fields)


async def refused(the_gate: ApprovalGate, req: ApprovalRequest, the_asker: Asker, **kwargs: Any) -> Refused:
    with anyio.fail_after(10), pytest.raises(Refused) as caught:
        await the_gate.approve(req, the_asker, **kwargs)
    return caught.value


def said(exc: Refused) -> tuple[str, str, str | None]:
    """The reason code, the gate's own words (every refusal then says "Nothing was sent.") and the hint."""
    assert exc.message.endswith(" Nothing was sent."), exc.message
    return exc.reason, exc.message.removesuffix(" Nothing was sent."), exc.hint or None



def typed(text: Any, action: str = "accept") -> ElicitResult:
    return ElicitResult(action=action, content=None if text is None else {"confirm": text})


def params(state: PendingState | None, answer: ElicitResult | None, key: str = "confirm") -> CallToolRequestParams:
    return CallToolRequestParams(name="cancel_open_orders", arguments={}, request_state=state.encode() if state else None,
                                 input_responses={key: answer} if answer is not None else None)


async def modern_question(the_gate: ApprovalGate, req: ApprovalRequest, *channels: str) -> InputRequiredResult:
    result = await the_gate.approve(req, asker(*channels, modern=True, params=params(None, None)))
    assert isinstance(result, InputRequiredResult)
    return result
