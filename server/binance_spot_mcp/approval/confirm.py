"""The words of an approval: CONFIRM, the preview a human reads, and the single-use proofs.

* ``preview`` renders a request in the server's own words. Every value that came from the model
  is shown escaped (control and other non-printing characters as ``\\xNN``/``\\uNNNN``), so an
  argument cannot forge a line of the preview in any channel.
* ``NonceBook`` issues single-use nonces; ``PendingState`` is what a modern-era ``request_state``
  carries (sealed by the SDK's ``RequestStateBoundary``) between a question and its answer.
* ``ConfirmationTokens`` back the chat path: the model relays CONFIRM typed by the human together
  with a token bound to one request digest. That path exists only where the operator opted in;
  ``gate`` decides which channel a call gets.

Only the exact text CONFIRM (ASCII spaces around it aside) approves. Anything else sends nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.config import MAINNET
from binance_spot_mcp.redact import escape_text

CONFIRM_WORD = "CONFIRM"
ELICITATION_TIMEOUT_S = 300.0
TOKEN_TTL_S = 120.0
STATE_TTL_S = ELICITATION_TIMEOUT_S
CONFIRM_INPUT_KEY = "confirm"
ACCOUNT_INPUT_KEY = "account"
CONFIRM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "confirm": {
            "type": "string",
            "title": "Type CONFIRM to send this request",
            "description": "Type CONFIRM exactly; anything else cancels.",
        }
    },
    "required": ["confirm"],
}
APPROVE_INPUT_KEY = "approve"  # the modern-era URL elicitation's input key
_PREVIEW_FIELDS = (
    ("symbol", "symbol"),
    ("side", "side"),
    ("type", "type"),
    ("quantity", "quantity"),
    ("quoteOrderQty", "quote amount"),
    ("price", "price"),
    ("stopPrice", "stop price"),
    ("timeInForce", "time in force"),
    ("orderId", "order id"),
    ("origClientOrderId", "client order id"),
    ("orderListId", "order list id"),
    ("newQty", "new quantity"),
)


def is_confirm_text(value: Any) -> bool:
    """The one test of "the human typed CONFIRM", shared by every channel (chat, form, page, card):
    the word exactly, with ASCII spaces (U+0020) around it ignored and nothing else -- no other
    kind of space, no tab or line break, no invisible character, no look-alike letter."""
    return isinstance(value, str) and value.strip(" ") == CONFIRM_WORD


def estimated_notional(params: Mapping[str, str], last_price: str | None) -> Decimal | None:
    """quantity x price where both can be known; the quote amount for quoteOrderQty orders."""
    try:
        if params.get("quoteOrderQty"):
            return Decimal(params["quoteOrderQty"])
        quantity = params.get("quantity") or params.get("newQty")
        price = params.get("price") or last_price
        if quantity and price:
            return Decimal(quantity) * Decimal(price)
    except InvalidOperation:
        return None
    return None


def preview(
    title: str,
    account: Account,
    params: Sequence[tuple[str, str]],
    *,
    last_price: str | None = None,
    quote_asset: str | None = None,
) -> str:
    """The request in plain words, for the human who approves it. ``title`` is the server's own."""
    values = dict(params)
    env = account.destination
    money = "MAINNET, real money" if MAINNET in (env, account.environment) else f"{env.upper()}, not real money"
    host = urlsplit(account.base_url).netloc or account.base_url
    lines = [
        title,
        f"Account: {escape_text(account.name)} ({money}; API key {account.masked_api_key})",
        f"Destination: {escape_text(host)}",
    ]
    for key, label in _PREVIEW_FIELDS:
        if key in values:
            lines.append(f"{label.capitalize()}: {escape_text(values[key])}")
    shown = {k for k, _ in _PREVIEW_FIELDS}
    others = [f"{escape_text(k)}={escape_text(v)}" for k, v in params if k not in shown]
    if others:
        lines.append("Other parameters: " + ", ".join(others))
    notional = estimated_notional(values, last_price)
    if notional is not None:
        asset = f" {escape_text(quote_asset)}" if quote_asset else ""
        basis = "" if values.get("price") or values.get("quoteOrderQty") else f" at the last price {escape_text(last_price)}"
        lines.append(f"Estimated notional: {notional.normalize():f}{asset}{basis}")
    lines.append("Type CONFIRM to send it; anything else cancels.")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# single-use nonces, shared by sealed request states and confirmation tokens


class NonceBook:
    """Remembers issued nonces until used or expired; each can be spent once."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._open: dict[str, float] = {}

    def issue(self, ttl_s: float) -> str:
        nonce = secrets.token_urlsafe(16)
        with self._lock:
            now = self._clock()
            self._open = {n: t for n, t in self._open.items() if t > now}
            self._open[nonce] = now + ttl_s
        return nonce

    def expired(self, nonce: str) -> bool:
        """True when ``nonce`` was issued here and its time ran out (it was never spent)."""
        with self._lock:
            expiry = self._open.get(nonce)
            return expiry is not None and expiry <= self._clock()

    def spend(self, nonce: str) -> bool:
        """True once for a live nonce; False if unknown, already spent or expired."""
        with self._lock:
            expiry = self._open.pop(nonce, None)
            return expiry is not None and expiry > self._clock()


@dataclass(frozen=True)
class PendingState:
    """What a modern-era ``request_state`` carries (sealed by the SDK before it leaves)."""

    step: str  # "account", "confirm" (form) or "approve" (URL page)
    nonce: str
    account: str | None = None
    digest: str | None = None
    approval: str | None = None  # the approval page's public id (URL channel)

    def encode(self) -> str:
        return json.dumps(
            {"s": self.step, "n": self.nonce, "a": self.account, "d": self.digest, "p": self.approval},
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, text: str | None) -> PendingState | None:
        if not text:
            return None
        try:
            raw = json.loads(text)
            return cls(
                step=str(raw["s"]), nonce=str(raw["n"]), account=raw.get("a"), digest=raw.get("d"), approval=raw.get("p")
            )
        except (ValueError, KeyError, TypeError):
            return None


class TokenCheck(StrEnum):
    OK = "ok"
    INVALID = "invalid"  # forged, altered, for other arguments, already used or expired
    RESTARTED = "restarted"  # issued by an earlier run of the server


class ConfirmationTokens:
    """Unforgeable, single-use, short-lived tokens bound to one request digest.

    A token is ``run.nonce.mac``: ``run`` names this server process (so a token from before a
    restart is told apart from a bad one), and the MAC (HMAC-SHA256 with a per-process key) covers
    the run, the nonce and the digest. Redeeming needs the same digest, a live unspent nonce and a
    valid MAC.
    """

    def __init__(self, nonces: NonceBook, *, ttl_s: float = TOKEN_TTL_S, key: bytes | None = None) -> None:
        self._nonces = nonces
        self._ttl_s = ttl_s
        self._key = key or secrets.token_bytes(32)
        self._run = secrets.token_hex(4)

    def _mac(self, nonce: str, digest: str) -> str:
        mac = hmac.new(self._key, f"{self._run}|{nonce}|{digest}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def issue(self, digest: str) -> str:
        nonce = self._nonces.issue(self._ttl_s)
        return f"{self._run}.{nonce}.{self._mac(nonce, digest)}"

    def check(self, token: str, digest: str) -> TokenCheck:
        """Redeem ``token`` for ``digest`` (once)."""
        parts = token.split(".")
        if len(parts) != 3 or not all(parts):
            return TokenCheck.INVALID
        run, nonce, mac = parts
        if not hmac.compare_digest(run, self._run):
            return TokenCheck.RESTARTED if len(run) == len(self._run) else TokenCheck.INVALID
        if not hmac.compare_digest(mac, self._mac(nonce, digest)):
            return TokenCheck.INVALID
        return TokenCheck.OK if self._nonces.spend(nonce) else TokenCheck.INVALID

    def redeem(self, token: str, digest: str) -> bool:
        return self.check(token, digest) is TokenCheck.OK

    def __repr__(self) -> str:
        return "ConfirmationTokens(<key hidden>)"
