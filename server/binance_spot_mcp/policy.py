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
import string
import unicodedata
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
# Symbol and asset names (CHANGELOG 2025-12-02: UTF-8 since then, e.g. testnet's 这是测试币456):
# ASCII A-Z 0-9 _ . - as before, plus non-ASCII letters, digits and combining marks; never a
# control, format (bidi, zero-width), private-use, space or separator character. At most 20
# characters, Binance's legal range before and after the change (no new limit was announced).
SYMBOL_MAX_CHARS = 20
_SYMBOL_ASCII = frozenset(string.ascii_uppercase + string.digits + "_.-")
_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
# A comma only separates thousands (groups of three digits): '0,5 BTC' is refused, never 5 BTC.
_AMOUNT_RE = re.compile(r"^\s*((?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9][0-9_]*)(?:\.[0-9]+)?)(\s*)(\S{1,20})\s*$")
MAX_PATTERN_CHARS = 40
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


def is_symbol_char(ch: str) -> bool:
    """One character Binance takes in a symbol or asset name (see SYMBOL_MAX_CHARS)."""
    if ch.isascii():
        return ch in _SYMBOL_ASCII
    return unicodedata.category(ch)[0] in "LNM"


def is_symbol(value: object) -> bool:
    """A symbol as Binance takes it: 1-20 symbol characters, not starting with a combining mark.
    ASCII letters must be upper case (lower-case spellings are not symbols)."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= SYMBOL_MAX_CHARS
        and unicodedata.category(value[0])[0] != "M"
        and all(is_symbol_char(ch) for ch in value)
    )


def ascii_upper(text: str) -> str:
    """Upper-case the ASCII letters only: ``btc这是`` -> ``BTC这是`` (``ß`` stays ``ß``, not ``SS``)."""
    return text.translate(_ASCII_UPPER)


SPELLING_SEPARATORS = "/-"  # BTC/USDT (ccxt), BTC-USDT (other venues)
MAX_SPELLING_CHARS = 2 * SYMBOL_MAX_CHARS  # longer text is no spelling of a symbol: left as it is


def spelled_symbol(text: str) -> str:
    """A symbol as people and ccxt type it, in Binance's spelling: ASCII letters upper-cased
    (nothing else changes case), and one ``/`` or ``-`` between two ASCII letter-and-digit halves
    dropped: ``btc/usdt`` and ``btc-usdt`` -> ``BTCUSDT``. Other text is only upper-cased, so
    whatever is not a symbol stays one ``is_symbol`` refuses; a Unicode symbol is as it was."""
    if len(text) > MAX_SPELLING_CHARS:
        return text
    upper = ascii_upper(text)
    for separator in SPELLING_SEPARATORS:
        base, found, quote = upper.partition(separator)
        if found and all(part.isascii() and part.isalnum() for part in (base, quote)):
            return base + quote
    return upper


def ascii_lower(text: str) -> str:
    """Lower-case the ASCII letters only (a stream name's symbol: ``这是测试币456`` stays as it is)."""
    return text.translate(_ASCII_LOWER)


def _is_asset(name: str) -> bool:
    return is_symbol(name) and not any(ch in "_.-" for ch in name)


def parse_amount(text: str) -> Amount:
    """``"100 USDT"`` -> Amount(100, "USDT"); Unicode assets too (``"100 456"``, ``"5 这是测试币"``).
    An asset that starts with a digit needs a space before it. Raises ValueError with a reason."""
    match = _AMOUNT_RE.match(text or "")
    asset = ascii_upper(match.group(3)) if match else ""
    if not match or not _is_asset(asset) or (asset[0].isdigit() and not match.group(2)):
        raise ValueError(f"'{text[:40]}' is not an amount such as '100 USDT'")
    try:
        value = Decimal(match.group(1).replace("_", "").replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"'{text[:40]}' is not an amount such as '100 USDT'") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"'{text[:40]}': the amount must be greater than zero")
    return Amount(value, asset)


def parse_symbols(text: str) -> tuple[str, ...]:
    """``"BTCUSDT, eth*, 这是*"`` -> ("BTCUSDT", "ETH*", "这是*"). Letters and digits (Unicode ones
    too, as in symbols) and ``*`` only; ASCII letters are upper-cased, nothing else is changed."""
    patterns = tuple(dict.fromkeys(ascii_upper(p.strip()) for p in (text or "").split(",") if p.strip()))
    if not patterns:
        raise ValueError("give at least one symbol or pattern, e.g. 'BTCUSDT, ETH*'")
    if len(patterns) > MAX_SYMBOL_PATTERNS:
        raise ValueError(f"at most {MAX_SYMBOL_PATTERNS} symbols or patterns")
    for pattern in patterns:
        if not _is_pattern(pattern):
            shown = f"'{pattern[:40]}'" if pattern.isprintable() else ascii(pattern[:40])  # ascii() adds the quotes
            raise ValueError(f"{shown} is not a symbol or pattern (letters, digits and * only)")
        if _mixes_look_alike_scripts(pattern):
            raise ValueError(f"{pattern[:40]!a} mixes Latin letters with Cyrillic or Greek ones that look "
                             "alike, so it would match no symbol Binance lists; type it again in one script")
    return patterns


def _mixes_look_alike_scripts(pattern: str) -> bool:
    """Latin letters beside Cyrillic or Greek ones (``ВТСUSDT`` pasted with a Cyrillic В, Т, С)."""
    scripts = {unicodedata.name(ch, "").split(" ")[0] for ch in pattern if ch.isalpha()}
    return "LATIN" in scripts and bool(scripts & {"CYRILLIC", "GREEK"})


def _is_pattern(pattern: str) -> bool:
    """``*`` anywhere, otherwise what a symbol may hold except ``_ . -``; 1-40 characters."""
    return 0 < len(pattern) <= MAX_PATTERN_CHARS and all(
        ch == "*" or (is_symbol_char(ch) and ch not in "_.-") for ch in pattern
    )


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
    return re.fullmatch(regex, ascii_upper(symbol)) is not None


def _spellings(text: str) -> set[str]:
    """``text`` as written, in NFKC (full-width letters, composed accents) and without combining
    marks, ASCII upper-cased: a deny list holds against another spelling of the symbol it names."""
    bare = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return {text, ascii_upper(unicodedata.normalize("NFKC", text)), ascii_upper(bare)}


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
        symbol = ascii_upper(symbol)
        for pattern in self.denied:  # denied in any spelling; allowed only as written
            if any(matches(s, p) for s in _spellings(symbol) for p in _spellings(pattern)):
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

