"""A paper account's own settings (TOOLS.md fields) and the signer that can sign nothing.

``Paper Balances: 10000 USDT, 0.05 BTC`` sets the starting balances (default 10,000 USDT);
``Paper Commission: 0.1%`` or ``Paper Commission: maker 0.075%, taker 0.1%`` the commission rates
(default Binance's standard 0.1 % for both). A paper account has no key: its ``PaperSigner``
refuses to sign, so no code path can send a signed request on its behalf.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from binance_spot_mcp.errors import PolicyError

DEFAULT_BALANCES: tuple[tuple[str, Decimal], ...] = (("USDT", Decimal(10000)),)
STANDARD_RATE = Decimal("0.001")  # Binance's standard spot commission, maker and taker
MAX_RATE = Decimal("0.01")
_ASSET_RE = re.compile(r"^[A-Z0-9]{1,20}$")


@dataclass(frozen=True)
class PaperSettings:
    balances: tuple[tuple[str, Decimal], ...] = DEFAULT_BALANCES
    maker_rate: Decimal = STANDARD_RATE
    taker_rate: Decimal = STANDARD_RATE

    def describe(self) -> str:
        held = ", ".join(f"{_plain(amount)} {asset}" for asset, amount in self.balances) or "nothing"
        return f"starts with {held}; commission maker {_percent(self.maker_rate)}, taker {_percent(self.taker_rate)}"


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _percent(rate: Decimal) -> str:
    return f"{_plain(rate * 100)} %"


def parse_balances(text: str) -> tuple[tuple[str, Decimal], ...]:
    """``10000 USDT, 0.05 BTC`` -> ((USDT, 10000), (BTC, 0.05)); ValueError says what is wrong."""
    out: dict[str, Decimal] = {}
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        pieces = part.split()
        if len(pieces) != 2:
            raise ValueError(f"'{part[:40]}' is not 'AMOUNT ASSET' (e.g. 10000 USDT)")
        amount_text, asset = pieces[0], pieces[1].upper()
        try:
            amount = Decimal(amount_text.replace("_", ""))
        except InvalidOperation:
            raise ValueError(f"'{amount_text[:30]}' is not a number") from None
        if not amount.is_finite() or amount < 0:
            raise ValueError(f"'{amount_text[:30]}' must be a number of 0 or more")
        if not _ASSET_RE.match(asset):
            raise ValueError(f"'{asset[:30]}' is not an asset name (letters and digits, e.g. USDT)")
        if asset in out:
            raise ValueError(f"{asset} is listed twice")
        out[asset] = amount
    if not out:
        raise ValueError("no balance given (e.g. 10000 USDT, 0.05 BTC)")
    return tuple(out.items())


def _rate(text: str) -> Decimal:
    text = text.strip()
    percent = text.endswith("%")
    try:
        value = Decimal(text.rstrip("%").strip())
    except InvalidOperation:
        raise ValueError(f"'{text[:30]}' is not a rate (e.g. 0.1%)") from None
    if percent:
        value /= 100
    if not value.is_finite() or value < 0 or value > MAX_RATE:
        raise ValueError(f"'{text[:30]}' must be from 0% to {_percent(MAX_RATE)}")
    return value


def parse_commission(text: str) -> tuple[Decimal, Decimal]:
    """``0.1%`` (both) or ``maker 0.075%, taker 0.1%`` -> (maker, taker)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if len(parts) == 1 and not parts[0].lower().startswith(("maker", "taker")):
        rate = _rate(parts[0])
        return rate, rate
    rates: dict[str, Decimal] = {}
    for part in parts:
        name, _, value = part.partition(" ")
        if name.lower() not in ("maker", "taker") or not value:
            raise ValueError(f"'{part[:40]}' is not 'maker RATE' or 'taker RATE'")
        rates[name.lower()] = _rate(value)
    return rates.get("maker", STANDARD_RATE), rates.get("taker", STANDARD_RATE)


class PaperSigner:
    """The signer of a paper account: there is nothing to sign with, and nothing may be signed."""

    kind = "paper"

    def sign(self, payload: bytes) -> str:
        raise PolicyError("a paper account never signs a request: it is simulated on this computer")

    def identity(self) -> bytes:
        return b"paper"

    def __repr__(self) -> str:
        return "PaperSigner()"
