"""One-shot fault descriptions and the error replies they produce (see ``Exchange.inject``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .exchange import Exchange, Reply

FAULT_KINDS = frozenset({"error_before", "error_after", "drop_after", "delay", "delay_after"})

# errors.md texts.
UNKNOWN_MSG = "An unknown error occurred while processing the request."
UNEXPECTED_RESP_MSG = "An unexpected response was received from the message bus. Execution status unknown."
TIMEOUT_MSG = "Timeout waiting for response from backend server. Send status unknown; execution status unknown."
SERVER_BUSY_MSG = "Server is currently overloaded with other requests. Please try again in a few minutes."

_DEFAULTS: dict[int, tuple[int, str]] = {
    500: (-1000, UNKNOWN_MSG),
    502: (-1006, UNEXPECTED_RESP_MSG),
    503: (-1008, SERVER_BUSY_MSG),
    504: (-1007, TIMEOUT_MSG),
}


@dataclass(eq=False)
class Fault:
    """An armed fault; ``remaining`` shots left."""

    kind: str
    path: str
    method: str | None
    remaining: int
    status: int = 503
    code: int | None = None
    msg: str | None = None
    delay_s: float = 0.0
    retry_after: int | None = None


def normalize_path(path: str) -> str:
    """Accept "/api/v3/order", "api/v3/order" or just "order"."""
    path = path.split("?", 1)[0]
    if path.startswith("/api/"):
        return path
    if path.startswith("api/"):
        return "/" + path
    return "/api/v3/" + path.lstrip("/")


def fault_reply(ex: "Exchange", fault: Fault, now: int, *, after: bool) -> "Reply":
    """The HTTP error a fault answers with.

    ``error_after`` defaults to -1007 TIMEOUT (execution status unknown). ``error_before`` defaults
    by status: 500 -> -1000, 502 -> -1006, 503 -> -1008, 504 -> -1007, 429 -> -1003 + Retry-After
    (seconds to the end of the minute window), 418 -> -1003 banned + Retry-After (``ban_seconds``);
    anything else -> -1000. An explicit ``code`` / ``msg`` / ``retry_after`` always wins.
    """
    from .exchange import Reply

    status = fault.status
    if not after and status == 429:
        reply = ex.too_much_weight(now, fault.retry_after)
    elif not after and status == 418:
        seconds = fault.retry_after if fault.retry_after is not None else ex.ban_seconds
        reply = ex._banned(now + seconds * 1000, now, seconds)
    else:
        code, msg = (-1007, TIMEOUT_MSG) if after else _DEFAULTS.get(status, (-1000, UNKNOWN_MSG))
        headers: dict[str, Any] = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        reply = Reply(status, {"code": code, "msg": msg}, headers)
    if fault.code is not None:
        reply.body["code"] = fault.code
    if fault.msg is not None:
        reply.body["msg"] = fault.msg
    return reply
