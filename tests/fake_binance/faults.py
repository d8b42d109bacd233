"""Fault injection: one-shot faults armed on a path, and the error replies they produce.

:class:`FaultInjection` (mixed into :class:`~.exchange.Exchange`) arms and hands out the faults
and counts the requests in flight, so a test can wait until a delayed request is done.
:func:`fault_reply` builds the HTTP error a fault answers with.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .records import Reply

if TYPE_CHECKING:  # pragma: no cover
    from .exchange import Exchange

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


class FaultInjection:
    """Armed faults and in-flight tracking, mixed into :class:`~.exchange.Exchange`.

    Uses the exchange's ``lock``.
    """

    def __init__(self) -> None:
        super().__init__()
        self._faults: list[Fault] = []
        self._idle = threading.Condition()
        self._in_flight = 0

    def inject(self, kind: str, *, path: str, method: str | None = None, times: int = 1, status: int = 503,
               code: int | None = None, msg: str | None = None, delay_s: float = 0.0,
               retry_after: int | None = None) -> Fault:
        """Arm ``times`` one-shot faults for requests to ``path`` (and ``method`` if given).

        Kinds: ``error_before`` (reply ``status`` without executing), ``error_after`` (execute, then reply
        ``status``, default -1007), ``drop_after`` (execute, then close the TCP connection without a reply),
        ``delay`` (sleep ``delay_s`` server-side, then handle normally), ``delay_after`` (execute at once,
        then wait ``delay_s`` before replying). Requests refused by the rate limiter (429/418) do not
        consume a shot.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if times < 1:
            raise ValueError("times must be >= 1")
        fault = Fault(kind, normalize_path(path), method.upper() if method else None, times, status, code, msg,
                      float(delay_s), retry_after)
        with self.lock:
            self._faults.append(fault)
        return fault

    def faults_pending(self) -> int:
        """How many injected shots have not fired yet."""
        with self.lock:
            return sum(f.remaining for f in self._faults)

    def clear_faults(self) -> None:
        """Disarm every injected fault."""
        with self.lock:
            self._faults.clear()

    def take_fault(self, method: str, path: str) -> Fault | None:
        """Consume one shot of the first fault matching this request (used by the ASGI app)."""
        with self.lock:
            for fault in self._faults:
                if fault.path == path and (fault.method is None or fault.method == method.upper()):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
            return None

    def _restore_fault(self, fault: Fault) -> None:
        fault.remaining += 1
        if fault not in self._faults:
            self._faults.insert(0, fault)

    def request_started(self) -> None:
        """ASGI app bookkeeping: one more request in flight."""
        with self._idle:
            self._in_flight += 1

    def request_finished(self) -> None:
        """ASGI app bookkeeping: one request done (replied, dropped or abandoned by its client)."""
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until no request is being processed (e.g. a delayed one whose client timed out)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)


def fault_reply(ex: "Exchange", fault: Fault, now: int, *, after: bool) -> "Reply":
    """The HTTP error a fault answers with.

    ``error_after`` defaults to -1007 TIMEOUT (execution status unknown). ``error_before`` defaults
    by status: 500 -> -1000, 502 -> -1006, 503 -> -1008, 504 -> -1007, 429 -> -1003 + Retry-After
    (seconds to the end of the minute window), 418 -> -1003 banned + Retry-After (``ban_seconds``);
    anything else -> -1000. An explicit ``code`` / ``msg`` / ``retry_after`` always wins.
    """
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
