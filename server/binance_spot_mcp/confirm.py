"""The human's typed CONFIRM before anything changes on a mainnet account (invariant 2).

A request *needs confirmation* when it changes state (POST/PUT/DELETE other than Binance's
``.../test`` endpoints) and its account's environment is ``mainnet``. Testnet and demo accounts
and reads are never asked.

How the question reaches the human depends on the host:

* handshake era (protocol <= 2025-11-25) and the host declared form elicitation: the server
  pushes an elicitation form mid-call and waits at most ``ELICITATION_TIMEOUT_S``;
* modern era (2026-07-28) and the host declared elicitation: the tool *returns* an
  ``InputRequiredResult``; its ``request_state`` (sealed by the SDK's ``RequestStateBoundary``)
  carries a single-use nonce and a digest of the exact account and canonical arguments;
* the host cannot elicit: the tool returns a preview and a single-use ``ConfirmationToken``
  bound to the same digest, valid for ``TOKEN_TTL_S``; the agent shows the preview, the human
  types CONFIRM, and the agent calls again with ``confirm: "CONFIRM"`` and the token. Operators
  can forbid this path (``require_elicitation``).

Only the exact text CONFIRM (surrounding spaces aside) accepts. Anything else -- decline,
cancel, other text, a timeout, a failed or mismatched answer -- sends nothing.
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
from typing import Any

from binance_spot_mcp.accounts import Account
from binance_spot_mcp.catalog import Endpoint
from binance_spot_mcp.config import MAINNET
from binance_spot_mcp.policy import requires_approval

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


def needs_confirmation(endpoint: Endpoint, account: Account | None) -> bool:
    return endpoint.changes_state and account is not None and (account.environment == MAINNET or requires_approval(account))


def is_confirm_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() == CONFIRM_WORD


def binding(endpoint: Endpoint, account: Account, params: Sequence[tuple[str, str]]) -> str:
    """A digest of exactly what would be sent: tool, account and canonical wire parameters."""
    canonical = json.dumps(
        {"tool": endpoint.tool, "account": account.name, "params": sorted(params)}, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


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
    endpoint: Endpoint, account: Account, params: Sequence[tuple[str, str]], *, last_price: str | None = None
) -> str:
    """The request in plain words, for the human who must type CONFIRM."""
    values = dict(params)
    lines = [
        f"{endpoint.description.rstrip('.')} — {endpoint.tool} ({endpoint.method} {endpoint.path})",
        f"Account: {account.name} ({'MAINNET, real money' if account.environment == MAINNET else account.environment}; API key {account.masked_api_key})",
    ]
    for key, label in _PREVIEW_FIELDS:
        if key in values:
            lines.append(f"{label.capitalize()}: {values[key]}")
    shown = {k for k, _ in _PREVIEW_FIELDS}
    others = [f"{k}={v}" for k, v in params if k not in shown]
    if others:
        lines.append("Other parameters: " + ", ".join(others))
    notional = estimated_notional(values, last_price)
    if notional is not None:
        basis = "" if values.get("price") or values.get("quoteOrderQty") else f" at the last price {last_price}"
        lines.append(f"Estimated notional: {notional.normalize():f}{basis}")
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

    def spend(self, nonce: str) -> bool:
        """True once for a live nonce; False if unknown, already spent or expired."""
        with self._lock:
            expiry = self._open.pop(nonce, None)
            return expiry is not None and expiry > self._clock()


@dataclass(frozen=True)
class PendingState:
    """What a modern-era ``request_state`` carries (sealed by the SDK before it leaves)."""

    step: str  # "account" or "confirm"
    nonce: str
    account: str | None = None
    digest: str | None = None

    def encode(self) -> str:
        return json.dumps(
            {"s": self.step, "n": self.nonce, "a": self.account, "d": self.digest}, separators=(",", ":")
        )

    @classmethod
    def decode(cls, text: str | None) -> PendingState | None:
        if not text:
            return None
        try:
            raw = json.loads(text)
            return cls(step=str(raw["s"]), nonce=str(raw["n"]), account=raw.get("a"), digest=raw.get("d"))
        except (ValueError, KeyError, TypeError):
            return None


class ConfirmationTokens:
    """Unforgeable, single-use, short-lived tokens bound to one request digest.

    A token is ``nonce.mac`` where the MAC (HMAC-SHA256 with a per-process key) covers the nonce
    and the digest. Redeeming needs the same digest, a live unspent nonce and a valid MAC.
    """

    def __init__(self, nonces: NonceBook, *, ttl_s: float = TOKEN_TTL_S, key: bytes | None = None) -> None:
        self._nonces = nonces
        self._ttl_s = ttl_s
        self._key = key or secrets.token_bytes(32)

    def _mac(self, nonce: str, digest: str) -> str:
        mac = hmac.new(self._key, f"{nonce}|{digest}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def issue(self, digest: str) -> str:
        nonce = self._nonces.issue(self._ttl_s)
        return f"{nonce}.{self._mac(nonce, digest)}"

    def redeem(self, token: str, digest: str) -> bool:
        nonce, _, mac = token.partition(".")
        if not nonce or not mac or not hmac.compare_digest(mac, self._mac(nonce, digest)):
            return False
        return self._nonces.spend(nonce)

    def __repr__(self) -> str:
        return "ConfirmationTokens(<key hidden>)"
