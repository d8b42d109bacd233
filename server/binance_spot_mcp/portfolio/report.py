"""The portfolio as the caller sees it: the structured result (``structuredContent``, checked by
``OUTPUT_SCHEMA``) and the compact text table for the model. Pure: figures in, figures out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from binance_spot_mcp.portfolio.costs import ZERO, Ledger, Position, allocations, money, percent, position
from binance_spot_mcp.portfolio.pricing import Price

# Kept small: every character of a schema costs context on every turn (tools/list budget).
OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["account", "valuation", "method", "priced_at", "total_value", "assets", "unpriced"],
    "properties": {
        "assets": {
            "type": "array",
            "items": {"type": "object", "required": ["asset", "quantity", "value", "coverage_pct", "unrealised_pnl"]},
        },
        "unpriced": {"type": "array", "items": {"type": "string"}},
    },
}


@dataclass(frozen=True)
class Holding:
    asset: str
    free: Decimal
    locked: Decimal

    @property
    def quantity(self) -> Decimal:
        return self.free + self.locked


def _plain(amount: Decimal) -> str:
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def build(
    *,
    account: str,
    ledger: Ledger,
    holdings: Sequence[Holding],
    prices: Mapping[str, Price],
    priced_at: str,
    period: Mapping[str, str | None],
    sync: Mapping[str, Any],
) -> dict[str, Any]:
    """The structured result: one row per held asset (and per asset with realised P&L only)."""
    positions: dict[str, Position] = {}
    for h in holdings:
        price = prices[h.asset].value if h.asset in prices else None
        positions[h.asset] = position(ledger, h.asset, h.quantity, price)
    total, shares = allocations({a: p.value for a, p in positions.items()})
    rows: list[dict[str, Any]] = []
    for h in holdings:
        p = positions[h.asset]
        book = ledger.assets.get(h.asset)
        rows.append({
            "asset": h.asset,
            "quantity": _plain(h.quantity),
            "free": _plain(h.free),
            "locked": _plain(h.locked),
            "price": money(p.price),
            "pairs": list(prices[h.asset].pairs) if h.asset in prices else [],
            "value": money(p.value),
            "allocation_pct": percent(shares[h.asset]),
            "coverage_pct": percent(p.coverage),
            "cost": money(p.cost) if p.covered > 0 else None,
            "average_cost": money(p.average_cost),
            "unrealised_pnl": money(p.unrealised) if p.covered > 0 else None,
            "realised_pnl": money(book.realised) if book is not None else money(ZERO),
            "fees_paid": _plain(book.fees) if book is not None else "0",
        })
    held = {h.asset for h in holdings}
    for asset, book in sorted(ledger.assets.items()):
        if asset not in held and (book.realised != 0 or book.fees != 0):
            rows.append({
                "asset": asset, "quantity": "0", "free": "0", "locked": "0", "price": None, "pairs": [],
                "value": None, "allocation_pct": None, "coverage_pct": None, "cost": None, "average_cost": None,
                "unrealised_pnl": None, "realised_pnl": money(book.realised), "fees_paid": _plain(book.fees),
            })
    unrealised = sum((p.unrealised for p in positions.values() if p.unrealised is not None and p.covered > 0), ZERO)
    realised = sum((b.realised for b in ledger.assets.values()), ZERO)
    unpriced = sorted(a for a, p in positions.items() if p.price is None)
    return {
        "account": account,
        "valuation": ledger.valuation,
        "method": ledger.method,
        "priced_at": priced_at,
        "period": dict(period),
        "total_value": money(total),
        "unrealised_pnl": money(unrealised),
        "realised_pnl": money(realised),
        "fees_value": money(ledger.fees_value),
        "assets": rows,
        "unpriced": unpriced,
        "sync": dict(sync),
        "notes": _notes(ledger, positions, unpriced),
    }


def _notes(ledger: Ledger, positions: Mapping[str, Position], unpriced: Sequence[str]) -> list[str]:
    notes = []
    partial = sorted(a for a, p in positions.items() if p.coverage is not None and p.coverage < 1 and a != ledger.valuation)
    if partial:
        notes.append(
            "Coverage below 100% for " + ", ".join(partial) + ": part of the holding came from outside the trades "
            "(deposit, Convert, Earn, airdrop); no cost is assumed for it and its P&L is left out."
        )
    if unpriced:
        notes.append("No market values " + ", ".join(unpriced) + " in " + ledger.valuation + ": listed, not counted in the total.")
    if ledger.unvalued_fees or any(b.unvalued_trades for b in ledger.assets.values()):
        notes.append("Some trades or fees had no price at their time; they are left unexplained, never guessed.")
    return notes


def text_table(result: Mapping[str, Any]) -> str:
    """The compact table the model reads."""
    v = result["valuation"]
    lines = [
        f"Portfolio of {result['account']} in {v} ({result['method']} cost), prices at {result['priced_at']}",
        f"Total {result['total_value']} {v}; unrealised P&L {result['unrealised_pnl']}; realised P&L "
        f"{result['realised_pnl']} ({_period_text(result['period'])}); fees {result['fees_value']}",
        "asset | qty | price | value | alloc% | cover% | avg cost | unrealised | realised | via",
    ]
    for row in result["assets"]:
        cells = [row["asset"], row["quantity"], row["price"], row["value"], row["allocation_pct"], row["coverage_pct"],
                 row["average_cost"], row["unrealised_pnl"], row["realised_pnl"], "+".join(row["pairs"])]
        lines.append(" | ".join("-" if c in (None, "") else str(c) for c in cells))
    if result["unpriced"]:
        lines.append("Unpriced: " + ", ".join(result["unpriced"]))
    lines.extend(result.get("notes", []))
    return "\n".join(lines)


def _period_text(period: Mapping[str, str | None]) -> str:
    start, end = period.get("from"), period.get("to")
    if start is None and end is None:
        return "all history"
    return f"{start or 'start'} to {end or 'now'}"
