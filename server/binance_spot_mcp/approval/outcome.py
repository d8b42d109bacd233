"""What happened to an approved request, in the server's words, for the page and the card.

After a human approves on the page or the card, the request is sent (or refused on the way);
``reported`` records the outcome on the approval's record (``book.ApprovalBook.record_outcome``)
so that the page, reopened, and the card say the truth: sent and accepted (with the order id),
refused by Binance (with its reason), refused before sending, or unknown (reply lost, never
re-sent). Text that came from the exchange is redacted and escaped before it is kept.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from mcp.types import CallToolResult

from binance_spot_mcp.errors import (
    BinanceSpotError,
    ExchangeError,
    OutcomeError,
    TransportError,
)
from binance_spot_mcp.redact import Redactor, escape_text

T = TypeVar("T")
MAX_REASON_CHARS = 300


class State(StrEnum):
    SENT = "sent"  # sent, and Binance accepted it
    REFUSED = "refused"  # sent, and Binance refused it
    NOT_SENT = "not_sent"  # stopped before it left (a rule at send time, a local limit)
    UNKNOWN = "unknown"  # the reply was lost: it may or may not have been placed; never re-sent


@dataclass(frozen=True)
class Outcome:
    state: State
    headline: str

    def as_dict(self) -> dict[str, str]:
        return {"state": self.state.value, "headline": self.headline}


def _clean(text: Any, redactor: Redactor) -> str:
    value = escape_text(redactor.redact(str(text)))
    return value if len(value) <= MAX_REASON_CHARS else value[:MAX_REASON_CHARS] + "…"


def _ids(data: Mapping[str, Any], redactor: Redactor) -> str:
    parts = []
    if data.get("orderListId") not in (None, -1):
        parts.append(f"order list {_clean(data['orderListId'], redactor)}")
    elif data.get("orderId") is not None:
        parts.append(f"order {_clean(data['orderId'], redactor)}")
    status = data.get("listOrderStatus") or data.get("status")
    if isinstance(status, str):
        parts.append(f"status {_clean(status, redactor)}")
    return ", ".join(parts)


def accepted(data: Any, redactor: Redactor) -> Outcome:
    """A reply Binance accepted (or a lost reply found again by its client id)."""
    if isinstance(data, Mapping) and "outcome" in data and "result" in data:  # a recovered lost reply
        found = data["result"] if isinstance(data["result"], Mapping) else {}
        ids = _ids(found, redactor)
        return Outcome(State.SENT, f"The reply was lost but the order was found: {_clean(data['outcome'], redactor)}"
                       + (f" ({ids})" if ids else "") + ". It was not sent twice.")
    ids = _ids(data, redactor) if isinstance(data, Mapping) else ""
    return Outcome(State.SENT, "Sent, and Binance accepted it" + (f": {ids}." if ids else "."))


def failed(exc: BinanceSpotError, redactor: Redactor) -> Outcome:
    if isinstance(exc, ExchangeError) and exc.status >= 500:  # Binance could not say: it may have executed
        return Outcome(State.UNKNOWN, f"Sent, and the outcome is unknown: {_clean(exc.msg, redactor)} (HTTP {exc.status}). "
                       "Check the account's orders before sending it again.")
    if isinstance(exc, ExchangeError):
        code = f" (code {exc.code})" if exc.code is not None else f" (HTTP {exc.status})"
        return Outcome(State.REFUSED, f"Sent, and Binance refused it: {_clean(exc.msg, redactor)}{code}.")
    if isinstance(exc, OutcomeError) or (isinstance(exc, TransportError) and exc.sent):
        return Outcome(State.UNKNOWN, _clean(exc.message, redactor))
    return Outcome(State.NOT_SENT, f"Not sent: {_clean(exc.message, redactor)}")


def applied(text: str) -> Outcome:
    """A change made by this server itself (TOOLS.md), not sent to Binance."""
    return Outcome(State.SENT, text)


async def watched(result: Awaitable[T], record: Any, redactor: Redactor) -> T:
    """Await ``result``; report its outcome to ``record(outcome)``, then return or re-raise."""
    try:
        value = await result
    except BinanceSpotError as exc:
        record(failed(exc, redactor))
        raise
    record(accepted(value, redactor))
    return value


def _message(result: CallToolResult) -> str:
    """The message of a failure result (already redacted and escaped by ``results.failure``)."""
    try:
        body = json.loads(result.content[0].text) if result.content else {}  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        return ""
    return str(body.get("message", "")) if isinstance(body, dict) else ""


def for_card(result: CallToolResult, outcome: Any) -> CallToolResult:
    """``approve_request``'s result with the outcome, in the server's words, for the card to show as
    a state of its own (``structuredContent.outcome``); the text content is left as it was. With no
    outcome recorded, the request never went out: the failure's own message says why."""
    if not isinstance(outcome, Outcome):
        said = _message(result)
        outcome = Outcome(State.NOT_SENT if result.is_error else State.UNKNOWN, said or "Not sent.")
    shown = {**(result.structured_content or {}), "outcome": outcome.as_dict()}
    return result.model_copy(update={"structured_content": shown})
