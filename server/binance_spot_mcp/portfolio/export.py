"""The trade export: the columns a tax or accounting tool expects, as CSV or JSON Lines.

One row per trade of the account, oldest first, from the local cache (which ``sync`` brings up
to date first, so an export stopped half-way resumes where it was). Times are UTC (ISO 8601,
milliseconds); amounts are Binance's decimal strings as they came, never floats.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

from binance_spot_mcp.portfolio.costs import Fill

FORMATS = ("csv", "jsonl")
COLUMNS = (
    "time_utc", "symbol", "base", "quote", "side", "price", "quantity", "quote_quantity",
    "fee", "fee_asset", "order_id", "trade_id", "role",
)


def _plain(value: object) -> str:
    text = f"{value:f}" if not isinstance(value, str) else value
    return text


def row(fill: Fill) -> dict[str, str]:
    """One trade as the export's columns (all strings)."""
    moment = datetime.fromtimestamp(fill.time_ms / 1000, tz=UTC)
    return {
        "time_utc": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "symbol": fill.symbol,
        "base": fill.base,
        "quote": fill.quote,
        "side": "BUY" if fill.is_buyer else "SELL",
        "price": _plain(fill.price),
        "quantity": _plain(fill.qty),
        "quote_quantity": _plain(fill.quote_qty),
        "fee": _plain(fill.commission),
        "fee_asset": fill.commission_asset,
        "order_id": str(fill.order_id),
        "trade_id": str(fill.trade_id),
        "role": "maker" if fill.is_maker else "taker",
    }


def write(fills: Iterable[Fill], out: TextIO, fmt: str) -> int:
    """Write the trades to ``out``; returns how many rows were written."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")  # what spreadsheets expect
        writer.writeheader()
        for fill in fills:
            writer.writerow(_safe_cells(row(fill)))
            count += 1
        return count
    for fill in fills:
        out.write(json.dumps(row(fill), ensure_ascii=False) + "\n")
        count += 1
    return count


def _safe_cells(cells: dict[str, str]) -> dict[str, str]:
    """A cell a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) is quoted
    with a leading apostrophe; symbols and assets come from outside. Numbers are never negative."""
    return {k: ("'" + v if v[:1] in ("=", "+", "-", "@", "\t", "\r") else v) for k, v in cells.items()}
