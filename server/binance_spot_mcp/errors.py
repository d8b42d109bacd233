"""The one error hierarchy of the package.

Every failure a tool call can meet is one of these; ``server`` turns each into an
``isError`` tool result whose text tells the model what happened and what to do next::

    BinanceSpotError                 base: a message plus a one-line ``hint``
    ├── ConfigError                  something the operator must fix before start-up
    │   ├── CatalogError             SKILL.md tables are malformed (names the row)
    │   └── AccountsFileError        TOOLS.md cannot be read (names the line)
    ├── ToolInputError               the arguments break the tool's schema (names the parameter)
    ├── AccountError                 no such account, ambiguous choice, unusable credentials
    │   └── UnknownAccount           ``doctor NAME`` names an account that is not configured
    ├── PolicyError                  the server refuses on principle (e.g. foreign base URL)
    │   ├── JournalError             the audit journal cannot be written: the request is not sent
    │   ├── NotConfirmed             a mainnet change the human did not CONFIRM: nothing was sent
    │   ├── FundsShort               the account certainly cannot pay for the order: refused before asking
    │   └── PolicyRefused            the operator's guard rails (kill switch, symbol lists, caps) say no
    │       └── Unpriceable          a capped order whose value cannot be determined: refused, not guessed
    ├── ExchangeError                Binance answered with an error: HTTP status, ``code``, ``msg``
    ├── TransportError               no usable answer (connection failed, timeout, bad JSON)
    └── OutcomeError                 an order's reply was lost and looking it up settled "not placed"
                                     or could not settle it ("unknown"); it was never re-sent

Messages never carry secrets: callers build them from names and masked values only, and
``redact`` runs over every outgoing text as a second line of defence.
"""

from __future__ import annotations

from typing import Any


class BinanceSpotError(Exception):
    """Base class: ``message`` for humans and models, ``hint`` for the next step."""

    kind = "error"
    default_hint = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape used in tool results."""
        out: dict[str, Any] = {"error": self.kind, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        return out


class ConfigError(BinanceSpotError):
    kind = "config_error"


class CatalogError(ConfigError):
    kind = "catalog_error"


class AccountsFileError(ConfigError):
    kind = "accounts_file_error"


class ToolInputError(BinanceSpotError):
    kind = "invalid_arguments"
    default_hint = "Fix the named parameter and call the tool again."

    def __init__(
        self,
        message: str,
        *,
        parameter: str | None = None,
        hint: str | None = None,
        problems: tuple[dict[str, Any], ...] = (),
    ) -> None:
        super().__init__(message, hint=hint)
        self.parameter = parameter
        self.problems = problems  # every problem of the call, when there are several

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.parameter:
            out["parameter"] = self.parameter
        if self.problems:
            out["problems"] = list(self.problems)
        return out


class AccountError(BinanceSpotError):
    kind = "account_error"

    def __init__(self, message: str, *, hint: str | None = None, choices: tuple[str, ...] = ()) -> None:
        super().__init__(message, hint=hint)
        self.choices = choices  # set when the choice is ambiguous: the names to pick from


class UnknownAccount(AccountError):
    """``doctor NAME`` for an account that is not configured (a usage error, exit 2)."""


class PolicyError(BinanceSpotError):
    kind = "refused"


class JournalError(PolicyError):
    """The journal could not be written; for an intent this means the request must not be sent."""

    kind = "journal_error"
    default_hint = "Nothing was sent. Check that the journal file's directory is writable (see --help)."


class NotConfirmed(PolicyError):
    kind = "not_confirmed"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{message} Nothing was sent.", hint=hint)


class FundsShort(PolicyError):
    """The account certainly cannot pay for the order: refused before a human is asked; nothing sent."""

    kind = "insufficient_balance"
    default_hint = "Nothing was asked or sent. Lower the quantity, or fund the account first."


class PolicyRefused(PolicyError):
    """A guard rail refused the request before it was signed; ``rule`` names which one."""

    kind = "policy_refused"

    def __init__(self, rule: str, message: str, *, hint: str | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"Refused by the operator's {rule} rule: {message} Nothing was sent.", hint=hint)
        self.rule = rule
        self.reason = message
        self.details = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["rule"] = self.rule
        out.update(self.details)
        return out


class Unpriceable(PolicyRefused):
    """An order on a capped account whose value in the cap's asset cannot be determined."""

    default_hint = (
        "A capped account only sends orders it can value. Give a price (LIMIT) or quoteOrderQty, or ask "
        "the operator about the cap's asset."
    )

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__("valuation", message, hint=hint)


class ExchangeError(BinanceSpotError):
    """Binance replied with an error payload ``{"code": ..., "msg": ...}``."""

    kind = "binance_error"

    def __init__(
        self,
        *,
        status: int,
        code: int | None,
        msg: str,
        hint: str | None = None,
        data: Any = None,
    ) -> None:
        text = f"Binance rejected the request (HTTP {status}"
        text += f", code {code}): {msg}" if code is not None else f"): {msg}"
        super().__init__(text, hint=hint)
        self.status = status
        self.code = code
        self.msg = msg
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.kind, "status": self.status, "code": self.code, "msg": self.msg}
        if self.hint:
            out["hint"] = self.hint
        if self.data is not None:
            out["data"] = self.data
        return out


class TransportError(BinanceSpotError):
    """No usable answer came back. ``sent`` tells whether the request may have reached Binance."""

    kind = "transport_error"

    def __init__(self, message: str, *, sent: bool, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.sent = sent

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["request_may_have_reached_binance"] = self.sent
        return out


class OutcomeError(BinanceSpotError):
    kind = "order_outcome"


# One-line next steps for the Binance error codes a user meets most (errors.md).
BINANCE_HINTS: dict[int, str] = {
    -1003: "Too much request weight: wait before calling again, and prefer fewer, narrower calls.",
    -1013: "A symbol filter rejected the order: check get_exchange_info for tickSize, stepSize and minimum notional.",
    -1021: "The request timestamp is outside recvWindow: the local clock is off; check the machine's time sync.",
    -1022: "The signature was rejected: check that the secret or private key belongs to this API key.",
    -1100: "A parameter has characters Binance does not accept: check its format.",
    -1102: "A mandatory parameter is missing or malformed for this order type: see the tool's parameters.",
    -1104: "Binance did not expect one of the parameters for this order type: drop the extra ones.",
    -1106: "A parameter was sent that this order type does not take: drop it.",
    -1111: "Too many decimals: round price/quantity to the symbol's tickSize/stepSize.",
    -1121: "Unknown symbol: check the spelling (e.g. BTCUSDT) with get_exchange_info.",
    -1128: "This combination of optional parameters is not allowed: see the endpoint's rules.",
    -2010: "The order was rejected (for example insufficient balance or a LIMIT_MAKER that would match).",
    -2011: "The cancel was rejected: the order may already be filled or cancelled; check get_order.",
    -2013: "No such order: check the orderId or client order id, and the symbol.",
    -2014: "The API key format is invalid: check the key in TOOLS.md.",
    -2015: "Key rejected: wrong key, IP not whitelisted, or the key lacks this permission (or wrong environment).",
}
HTTP_HINTS: dict[int, str] = {
    403: "A Binance firewall rule blocked the request; slow down and check the request for odd characters.",
    418: "This IP is banned for ignoring rate limits; wait until the ban ends before any further call.",
    429: "Rate limit hit: wait (see Retry-After) before calling again.",
}


_AMEND = "amend_order_keep_priority"
_CANCEL_REPLACE = "cancel_replace_order"
# Where a code means something else for one tool than BINANCE_HINTS says (an amend is not a cancel).
TOOL_HINTS: dict[tuple[int, str], str] = {
    (-2011, _AMEND): "The amend was rejected: the order is unknown or no longer open (filled or cancelled); check get_order.",
    (-2013, _AMEND): "No such order to amend: check the orderId or client order id, and the symbol.",
    (-2038, _AMEND): "The amend was rejected: newQty must be below the order's remaining quantity, and the order open.",
    (-2011, "get_order_list"): "No such order list: check orderListId or origClientOrderId (get_all_order_lists lists them).",
    (-2011, "cancel_order_list"): "The cancel was rejected: the order list is unknown or already done; check get_order_list.",
    (-2011, "cancel_open_orders"): "Nothing was cancelled: the symbol may have no open orders; check get_open_orders.",
    (-2021, _CANCEL_REPLACE): (
        "One half failed: 'data' says whether the cancel or the new order went through (cancelResult, "
        "newOrderResult); check get_open_orders before trying again."
    ),
    (-2022, _CANCEL_REPLACE): "Neither the cancel nor the new order went through ('data' says why); nothing changed.",
    (-2010, _CANCEL_REPLACE): "The new order was rejected; see 'data' for whether the old order was cancelled.",
}


def hint_for(status: int, code: int | None, tool: str | None = None) -> str:
    """The best one-line next step for a Binance error reply to ``tool``."""
    if code is not None and tool is not None and (code, tool) in TOOL_HINTS:
        return TOOL_HINTS[(code, tool)]
    if code is not None and code in BINANCE_HINTS:
        return BINANCE_HINTS[code]
    if status in HTTP_HINTS:
        return HTTP_HINTS[status]
    if status >= 500:
        return "Binance had an internal error; the outcome is unknown, so check before repeating any order."
    return "Read Binance's message, fix the request and try again."
