"""Pending approvals: what exactly a human is asked to approve, and the one-time records of it.

An approval is bound to one request (``request_digest``): the tool, its canonical arguments, the
account name, its environment label and destination, the base URL, a fingerprint of the API key,
the signer kind and a fingerprint of the signing material, plus the MCP session where there is
one. Any change between the question and the answer -- other arguments, another account, a key
swapped in TOOLS.md, another session -- gives another digest, and the approval does not apply.

``ApprovalBook`` keeps the approvals that travel outside the tool call (the URL page and the
MCP Apps card): each has a public id (safe to show the model), a secret (the page path or the
card's credential, never shown to the model) and a CSRF token. A record is decided once
(approved or declined), redeemed once, and expires after ``APPROVAL_TTL_S``. A decided record is
kept (``seen``) until then with when it was decided and, once known, what happened to the request
(``record_outcome``), so a reopened page tells the truth; it can never be decided again. The book
is thread-safe: the approval page runs on its own thread and wakes the waiting tool call.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import anyio

APPROVAL_TTL_S = 300.0
WRONG_TEXT_NOTE = "the text typed was not CONFIRM"  # a decline on the page that was meant as an approval
MAX_OPEN_APPROVALS = 64
MAX_DECIDED_KEPT = 256  # decided records kept for a reopened link (the oldest go first)
CODE_CHARS = 6  # the short request code a person matches between the host's prompt and the page


def request_code(approval_id: str) -> str:
    """The short code shown on the page, the card and in the host's prompt ("3FA-9C1")."""
    head = approval_id[:CODE_CHARS].upper()
    return f"{head[:3]}-{head[3:]}"


class TooManyPending(Exception):
    """Every slot holds an undecided or approved request; none is pushed out to make room."""


class Channel(StrEnum):
    """How a human approved a change (written to the journal as ``approved_via``)."""

    FORM = "form"  # form elicitation shown by the host
    URL = "url"  # the loopback approval page, opened through URL elicitation
    APP = "app"  # the MCP Apps confirmation card
    CHAT = "chat"  # CONFIRM typed in the chat and relayed by the model (operator opt-in only)


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    SPENT = "spent"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Grant:
    """Proof, for the send step, that a human approved this request through ``via``."""

    via: Channel
    approval_id: str
    summary: str = ""  # the headline the human approved, for the journal (``approved_summary``)

    def journal_fields(self) -> dict[str, str]:
        fields = {"approved_via": self.via.value, "approval_id": self.approval_id}
        if self.summary:
            fields["summary"] = self.summary
        return fields


def request_digest(
    *,
    tool: str,
    params: Sequence[tuple[str, str]],
    account: str,
    environment: str,
    destination: str,
    base_url: str,
    api_key_fingerprint: str,
    signer_kind: str,
    signer_fingerprint: str,
    session: str | None,
) -> str:
    """A digest of everything an approval is bound to (see the module docstring)."""
    canonical = json.dumps(
        {
            "tool": tool,
            "params": sorted([str(k), str(v)] for k, v in params),
            "account": account,
            "environment": environment,
            "destination": destination,
            "base_url": base_url,
            "api_key": api_key_fingerprint,
            "signer": signer_kind,
            "signer_key": signer_fingerprint,
            "session": session,
        },
        separators=(",", ":"),
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_SESSION_IDS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_SESSION_LOCK = threading.Lock()


def session_key(ctx: Any, *, modern: bool) -> str | None:
    """A stable key for the MCP session a request belongs to, or None where there is none.

    Streamable HTTP sessions are named by their ``Mcp-Session-Id``; a handshake-era connection
    (stdio, in memory) gets a random name for its lifetime. Modern-era requests are each their
    own connection: there is no session to bind to."""
    connection = getattr(getattr(ctx, "session", None), "_connection", None)
    if connection is None:
        return None
    session_id = getattr(connection, "session_id", None)
    if session_id:
        return f"http:{session_id}"
    if modern:
        return None
    with _SESSION_LOCK:
        try:
            key = _SESSION_IDS.get(connection)
            if key is None:
                key = _SESSION_IDS[connection] = f"conn:{secrets.token_hex(8)}"
            return key
        except TypeError:  # not weak-referenceable: no stable name
            return None


@dataclass
class PendingApproval:
    """One request waiting for (or holding) a human's decision."""

    approval_id: str
    secret: str = field(repr=False)
    csrf: str = field(repr=False)
    channel: Channel
    tool: str
    arguments: Mapping[str, Any] = field(repr=False)
    digest: str
    preview: str = field(repr=False)
    session: str | None
    expires_at: float
    status: Status = Status.PENDING
    note: str = ""
    summary: Any = field(default=None, repr=False)  # summary.Summary, when the request has one
    expires_wall: float = 0.0  # expires_at on the wall clock (for "expires at 14:05 UTC")
    decided_wall: float | None = None  # when the human (or the call ending) decided
    outcome: Any = field(default=None, repr=False)  # outcome.Outcome, once the request went its way
    _waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = field(default_factory=list, repr=False)


class ApprovalBook:
    """The approvals that live outside one tool call (URL page, MCP Apps card). Thread-safe."""

    def __init__(
        self,
        *,
        ttl_s: float = APPROVAL_TTL_S,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._items: dict[str, PendingApproval] = {}
        self._done: dict[str, PendingApproval] = {}  # decided, kept until expiry for a reopened link

    def __repr__(self) -> str:
        return f"ApprovalBook({len(self._items)} open)"

    def create(
        self,
        *,
        channel: Channel,
        tool: str,
        arguments: Mapping[str, Any],
        digest: str,
        preview: str,
        session: str | None,
        summary: Any = None,
    ) -> PendingApproval:
        pending = PendingApproval(
            approval_id=secrets.token_hex(8),
            secret=secrets.token_urlsafe(24),
            csrf=secrets.token_urlsafe(24),
            channel=channel,
            tool=tool,
            arguments=dict(arguments),
            digest=digest,
            preview=preview,
            session=session,
            expires_at=self._clock() + self._ttl_s,
            summary=summary,
            expires_wall=self._wall() + self._ttl_s,
        )
        with self._lock:
            self._prune()
            self._items[pending.approval_id] = pending
        return pending

    def _prune(self) -> None:
        now = self._clock()
        for key in [k for k, p in self._items.items() if p.expires_at <= now]:
            self._set(self._items.pop(key), Status.EXPIRED)
        for key in [k for k, p in self._items.items() if p.status in (Status.DECLINED, Status.SPENT)]:
            self._retire(self._items.pop(key))
        for key in [k for k, p in self._done.items() if p.expires_at <= now]:
            del self._done[key]
        if len(self._items) >= MAX_OPEN_APPROVALS:
            # never push out a request a human may be reading or has approved: refuse the new one
            raise TooManyPending(f"{len(self._items)} approvals are already waiting for a human")

    def _live(self, approval_id: str) -> PendingApproval | None:
        pending = self._items.get(approval_id)
        if pending is not None and pending.expires_at <= self._clock():
            self._set(self._items.pop(approval_id), Status.EXPIRED)
            return None
        return pending

    def _undecided(self, approval_id: str, secret: str, channel: Channel) -> PendingApproval | None:
        """Under the lock: the live, undecided approval of ``channel`` with this id and secret."""
        pending = self._live(approval_id)
        if pending is None or pending.status is not Status.PENDING or pending.channel is not channel:
            return None
        return pending if hmac.compare_digest(pending.secret.encode(), secret.encode()) else None

    def lookup(self, approval_id: str, secret: str, channel: Channel) -> PendingApproval | None:
        """The live, undecided approval of ``channel`` (the page: URL; the card: APP) with this id and secret."""
        with self._lock:
            return self._undecided(approval_id, secret, channel)

    def decide(
        self,
        approval_id: str,
        secret: str,
        *,
        channel: Channel,
        approve: bool,
        csrf: str | None = None,
        note: str = "",
    ) -> Status | None:
        """Record the human's one decision. None when the id, secret or CSRF token is wrong, or the
        approval is no longer pending (decided, spent or expired)."""
        with self._lock:
            pending = self._undecided(approval_id, secret, channel)
            if pending is None:
                return None
            if csrf is not None and not hmac.compare_digest(pending.csrf.encode(), csrf.encode()):
                return None
            pending.note = note
            self._set(pending, Status.APPROVED if approve else Status.DECLINED)
            return pending.status

    def cancel(self, approval_id: str, note: str = "") -> None:
        """The tool call gave up (the host declined, the wait timed out): nothing may approve it now."""
        with self._lock:
            pending = self._items.get(approval_id)
            if pending is not None and pending.status is Status.PENDING:
                pending.note = note
                self._set(pending, Status.DECLINED)

    def redeem(self, approval_id: str, digest: str, session: str | None) -> PendingApproval | None:
        """Spend an approved record for exactly this request; None if it does not apply."""
        with self._lock:
            pending = self._live(approval_id)
            if pending is None or pending.status is not Status.APPROVED:
                return None
            if not hmac.compare_digest(pending.digest, digest) or pending.session != session:
                return None
            self._set(pending, Status.SPENT)
            self._retire(self._items.pop(approval_id))
            return pending

    def now(self) -> float:
        return self._clock()

    def note(self, approval_id: str) -> str | None:
        """Why a decided approval was decided so (``WRONG_TEXT_NOTE`` for a mistyped CONFIRM)."""
        with self._lock:
            pending = self._items.get(approval_id) or self._done.get(approval_id)
            return None if pending is None else pending.note

    def seen(self, approval_id: str, secret: str, channel: Channel) -> PendingApproval | None:
        """The record behind a link or card, decided or not, until it expires (for a reopened page)."""
        with self._lock:
            pending = self._live(approval_id) or self._done.get(approval_id)
            if pending is None or pending.channel is not channel or pending.expires_at <= self._clock():
                return None
            return pending if hmac.compare_digest(pending.secret.encode(), secret.encode()) else None

    def record_outcome(self, approval_id: str, outcome: Any) -> None:
        """What happened to the request this approval let through (``outcome.Outcome``)."""
        with self._lock:
            pending = self._items.get(approval_id) or self._done.get(approval_id)
            if pending is not None:
                pending.outcome = outcome

    def outcome_of(self, approval_id: str) -> Any:
        with self._lock:
            pending = self._items.get(approval_id) or self._done.get(approval_id)
            return None if pending is None else pending.outcome

    def _retire(self, pending: PendingApproval) -> None:
        """Under the lock: keep a decided record (no longer decidable) for a reopened link."""
        self._done[pending.approval_id] = pending
        while len(self._done) > MAX_DECIDED_KEPT:
            del self._done[next(iter(self._done))]

    def status(self, approval_id: str) -> Status | None:
        with self._lock:
            pending = self._live(approval_id)
            return None if pending is None else pending.status

    def _set(self, pending: PendingApproval, status: Status) -> None:
        if pending.status is Status.PENDING and status is not Status.EXPIRED:
            pending.decided_wall = self._wall()
        pending.status = status
        waiters, pending._waiters = pending._waiters, []
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop is closed: nobody waits any more
                pass

    async def wait_decided(self, approval_id: str, timeout_s: float) -> Status | None:
        """Wait (at most ``timeout_s``) until the human decides; the status then, None if unknown."""
        event = asyncio.Event()
        with self._lock:
            pending = self._live(approval_id)
            if pending is None:
                return None
            if pending.status is not Status.PENDING:
                return pending.status
            pending._waiters.append((asyncio.get_running_loop(), event))
        with anyio.move_on_after(timeout_s):
            await event.wait()
        with self._lock:
            pending = self._live(approval_id)
            return None if pending is None else pending.status
