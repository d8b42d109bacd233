"""The operator's guard rails as data: caps, symbol lists, dry run and when to ask for approval.

Each source of rules -- the server's flags/environment variables, and each account's lines in
TOOLS.md -- gives a ``Rules``. The rules in force for an account (its ``Policy``) combine the
two, and **the stricter always wins**: both caps apply (each in its own asset), a symbol must be
allowed by every allow-list and denied by none, dry run and ``Confirm: always`` are on when
either side turns them on. So a server started with ``--max-order-value "100 USDT"`` bounds
every account, including one written into TOOLS.md later (``add_account`` cannot loosen it).

TOOLS.md lines (each optional)::

    - Max Order Value: 100 USDT          one order (or order list) may be worth at most this
    - Max Daily Value: 500 USDT          orders placed in any rolling 24 hours, together
    - Allowed Symbols: BTCUSDT, ETH*     only these (``*`` matches any run of characters)
    - Denied Symbols: *DOWN*, *UP        never these
    - Dry Run: true                      answer with the preview and the verdict; send nothing
    - Confirm: always                    ask the human on testnet/demo too (default: mainnet)

This module does no I/O: valuing orders is ``exchange.pricing``'s job, enforcing is ``guard.enforce``'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

CONFIRM_MAINNET, CONFIRM_ALWAYS = "mainnet", "always"
CONFIRM_CHOICES = (CONFIRM_MAINNET, CONFIRM_ALWAYS)
# TOOLS.md labels (lower case) -> Rules attribute; accounts/reading.py accepts these lines too.
POLICY_FIELDS: Mapping[str, str] = {
    "max order value": "max_order_value",
    "max daily value": "max_daily_value",
    "allowed symbols": "allowed_symbols",
    "denied symbols": "denied_symbols",
    "dry run": "dry_run",
    "confirm": "confirm",
}
MAX_SYMBOL_PATTERNS = 200
_AMOUNT_RE = re.compile(r"^\s*([0-9][0-9_,]*(?:\.[0-9]+)?)\s*([A-Za-z][A-Za-z0-9]{1,19})\s*$")
_PATTERN_RE = re.compile(r"^[A-Z0-9*]{1,40}$")
_TRUE, _FALSE = frozenset({"true", "yes", "on", "1"}), frozenset({"false", "no", "off", "0"})


@dataclass(frozen=True)
class Amount:
    """A positive decimal in a named asset, e.g. ``100 USDT``."""

    value: Decimal
    asset: str

    def __str__(self) -> str:
        return f"{plain(self.value)} {self.asset}"


def plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: ``Decimal('1E+2')`` -> ``'100'``."""
    return f"{value.normalize():f}"


def parse_amount(text: str) -> Amount:
    """``"100 USDT"`` -> Amount(100, "USDT"). Raises ValueError with a readable reason."""
    match = _AMOUNT_RE.match(text or "")
    if not match:
        raise ValueError(f"'{text[:40]}' is not an amount such as '100 USDT'")
    try:
        value = Decimal(match.group(1).replace("_", "").replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"'{text[:40]}' is not an amount such as '100 USDT'") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"'{text[:40]}': the amount must be greater than zero")
    return Amount(value, match.group(2).upper())


def parse_symbols(text: str) -> tuple[str, ...]:
    """``"BTCUSDT, eth*"`` -> ("BTCUSDT", "ETH*"). Letters, digits and ``*`` only."""
    patterns = tuple(dict.fromkeys(p.strip().upper() for p in (text or "").split(",") if p.strip()))
    if not patterns:
        raise ValueError("give at least one symbol or pattern, e.g. 'BTCUSDT, ETH*'")
    if len(patterns) > MAX_SYMBOL_PATTERNS:
        raise ValueError(f"at most {MAX_SYMBOL_PATTERNS} symbols or patterns")
    for pattern in patterns:
        if not _PATTERN_RE.match(pattern):
            raise ValueError(f"'{pattern[:40]}' is not a symbol or pattern (letters, digits and * only)")
    return patterns


def parse_flag(text: str) -> bool:
    word = (text or "").strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"'{text[:20]}' must be true or false")


def parse_confirm(text: str) -> str:
    word = (text or "").strip().lower()
    if word not in CONFIRM_CHOICES:
        raise ValueError(f"'{text[:20]}' must be mainnet or always")
    return word


_PARSERS = {
    "max_order_value": parse_amount,
    "max_daily_value": parse_amount,
    "allowed_symbols": parse_symbols,
    "denied_symbols": parse_symbols,
    "dry_run": parse_flag,
    "confirm": parse_confirm,
}


def matches(symbol: str, pattern: str) -> bool:
    """``*`` matches any run of characters (possibly none); everything else literally."""
    regex = "".join(".*" if c == "*" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, symbol.upper()) is not None


@dataclass(frozen=True)
class Rules:
    """What one source says. None / empty: that source says nothing about it."""

    max_order_value: Amount | None = None
    max_daily_value: Amount | None = None
    allowed_symbols: tuple[str, ...] | None = None
    denied_symbols: tuple[str, ...] = ()
    dry_run: bool | None = None
    confirm: str | None = None


def parse_rules(fields: Mapping[str, tuple[str, int]], where: str) -> Rules:
    """An account's rules from its TOOLS.md fields (key -> (value, line number)).

    Raises ValueError naming the file and line of the first bad value."""
    values: dict[str, Any] = {}
    for key, parse in _PARSERS.items():
        if key not in fields:
            continue
        text, line = fields[key]
        label = next(lbl for lbl, k in POLICY_FIELDS.items() if k == key).title()
        try:
            values[key] = parse(text)
        except ValueError as exc:
            raise ValueError(f"{where} line {line}: {label}: {exc}") from None
    return Rules(**values)


def parse_server_rules(values: Mapping[str, str | None], source: Mapping[str, str]) -> Rules:
    """Server-wide rules from flag/environment values (attribute -> text or None).

    ``source`` names where each came from (``--max-order-value``, ``BINANCE_SPOT_MCP_...``) for
    errors. Raises ValueError."""
    parsed: dict[str, Any] = {}
    for key, text in values.items():
        if text is None or not str(text).strip():
            continue
        try:
            parsed[key] = _PARSERS[key](str(text))
        except ValueError as exc:
            raise ValueError(f"{source.get(key, key)}: {exc}") from None
    return Rules(**parsed)


@dataclass(frozen=True)
class Cap:
    """One cap in force and who set it ("server" or "account")."""

    amount: Amount
    set_by: str


@dataclass(frozen=True)
class Policy:
    """The rules in force for one account: the stricter of the server's and the account's."""

    order_caps: tuple[Cap, ...] = ()
    daily_caps: tuple[Cap, ...] = ()
    allowed: tuple[tuple[str, ...], ...] = ()  # every list must allow the symbol
    denied: tuple[str, ...] = ()
    dry_run: bool = False
    confirm_always: bool = False
    dry_run_by: tuple[str, ...] = ()  # who turned dry run on: "server", "account", "account 'x' (same API key)"

    @property
    def has_caps(self) -> bool:
        return bool(self.order_caps or self.daily_caps)

    @property
    def restricts_symbols(self) -> bool:
        return bool(self.allowed or self.denied)

    def symbol_problem(self, symbol: str) -> str | None:
        """Why ``symbol`` may not be traded, or None when it may."""
        symbol = symbol.upper()
        for pattern in self.denied:
            if matches(symbol, pattern):
                return f"{symbol} matches the denied symbol pattern '{pattern}'"
        for patterns in self.allowed:
            if not any(matches(symbol, p) for p in patterns):
                return f"{symbol} is not in the allowed symbols ({', '.join(patterns)})"
        return None

    def describe(self) -> dict[str, Any]:
        """Plain data for get_safety_status and doctor."""
        out: dict[str, Any] = {
            "max_order_value": [f"{c.amount} ({c.set_by})" for c in self.order_caps] or None,
            "max_daily_value": [f"{c.amount} ({c.set_by})" for c in self.daily_caps] or None,
            "allowed_symbols": [", ".join(p) for p in self.allowed] or "all",
            "denied_symbols": ", ".join(self.denied) or None,
            "dry_run": self.dry_run,
            "confirm": CONFIRM_ALWAYS if self.confirm_always else CONFIRM_MAINNET,
        }
        return {k: v for k, v in out.items() if v is not None}


def effective_policy(server: Rules, account: Rules, shared: Sequence[tuple[str, Rules]] = ()) -> Policy:
    """Combine the sources; the stricter always wins (see the module docstring).

    ``shared`` are the rules of the other TOOLS.md entries that use the same API key, by entry
    name: the rules follow the Binance account, so a second entry for one key cannot shed them."""
    sources = [("server", server), ("account", account), *((f"account '{n}' (same API key)", r) for n, r in shared)]

    def caps(attribute: str) -> tuple[Cap, ...]:
        found: list[Cap] = []
        for who, rules in sources:
            amount = getattr(rules, attribute)
            if amount is not None and (who in ("server", "account") or all(c.amount != amount for c in found)):
                found.append(Cap(amount, who))
        return tuple(found)

    allowed: list[tuple[str, ...]] = []
    for _, rules in sources:
        if rules.allowed_symbols is not None and rules.allowed_symbols not in allowed:
            allowed.append(rules.allowed_symbols)
    return Policy(
        order_caps=caps("max_order_value"),
        daily_caps=caps("max_daily_value"),
        allowed=tuple(allowed),
        denied=tuple(dict.fromkeys(p for _, rules in sources for p in rules.denied_symbols)),
        dry_run=any(bool(rules.dry_run) for _, rules in sources),
        confirm_always=any(rules.confirm == CONFIRM_ALWAYS for _, rules in sources),
        dry_run_by=tuple(who for who, rules in sources if rules.dry_run),
    )


class HasPolicy(Protocol):
    @property
    def policy(self) -> Policy: ...


def requires_approval(account: HasPolicy | None) -> bool:
    """True when the operator wants a human to approve every change on this account, whatever
    its environment (``Confirm: always``). Mainnet accounts are always asked anyway."""
    return account is not None and account.policy.confirm_always

