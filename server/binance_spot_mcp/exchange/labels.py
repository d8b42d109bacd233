"""Replies a model reads well: Binance's bare kline arrays under named columns.

``get_klines`` and ``get_ui_klines`` answer with arrays of twelve values whose meaning is only in
Binance's documentation (market-data-endpoints.md). Here they become ``{"columns": [...], "rows":
[...]}``: the names once, then the rows, without the twelfth value (documented as unused). A call
with ``raw: true`` (``catalog.schema.RAW_REPLY_TOOLS``) keeps the wire shape. Anything that is
not a list of such arrays is returned as it came.
"""

from __future__ import annotations

from typing import Any

KLINE_COLUMNS = (
    "openTime", "open", "high", "low", "close", "volume", "closeTime", "quoteVolume", "trades",
    "takerBuyBaseVolume", "takerBuyQuoteVolume",
)
KLINE_TOOLS = frozenset({"get_klines", "get_ui_klines"})


def label_reply(tool: str, data: Any) -> Any:
    """``data`` of ``tool`` with its columns named, where this module knows them."""
    if tool not in KLINE_TOOLS or not isinstance(data, list):
        return data
    if not all(isinstance(row, list) and len(row) >= len(KLINE_COLUMNS) for row in data):
        return data
    return {"columns": list(KLINE_COLUMNS), "rows": [row[: len(KLINE_COLUMNS)] for row in data]}


def shaped(tool: str, data: Any, raw: bool) -> Any:
    """The reply a tool gives: labelled, unless the call asked for the wire shape (``raw``)."""
    return data if raw else label_reply(tool, data)
