"""Tool results: success and error payloads as compact JSON, redacted and size-capped."""

from __future__ import annotations

import json
from typing import Any

from mcp.types import CallToolResult, TextContent

from binance_spot_mcp.errors import BinanceSpotError
from binance_spot_mcp.redact import Redactor

TRUNCATION_NOTE = "The reply was cut to fit the assistant's context; narrow the query (e.g. pass symbol/symbols or a smaller limit)."


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def cap_json(data: Any, max_chars: int) -> str:
    """Serialise ``data``; if it is longer than ``max_chars``, cut it and say so, as valid JSON."""
    text = dumps(data)
    if len(text) <= max_chars:
        return text
    items: list[Any] | None = None
    key = None
    if isinstance(data, list):
        items = data
    elif isinstance(data, dict):
        # the largest list member is what makes a reply huge (symbols, balances, bids, ...)
        lists = [(k, v) for k, v in data.items() if isinstance(v, list)]
        if lists:
            key, items = max(lists, key=lambda kv: len(dumps(kv[1])))
    if items is None:
        return dumps({"truncated": True, "note": TRUNCATION_NOTE, "original_chars": len(text)})
    budget = max_chars - 400
    kept: list[Any] = []
    used = 0
    for item in items:
        size = len(dumps(item)) + 1
        if used + size > budget:
            break
        kept.append(item)
        used += size
    meta = {"truncated": True, "note": TRUNCATION_NOTE, "kept_items": len(kept), "total_items": len(items)}
    if key is None:
        return dumps({**meta, "items": kept})
    rest = {k: v for k, v in data.items() if k != key}
    out = {**meta, **rest, key: kept}
    text = dumps(out)
    return text if len(text) <= max_chars else dumps(meta | {"kept_items": 0, key: []})


def success(data: Any, *, redactor: Redactor, max_chars: int) -> CallToolResult:
    text = redactor.redact(cap_json(data, max_chars))
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=False)


def failure(error: BinanceSpotError, *, redactor: Redactor) -> CallToolResult:
    text = redactor.redact(dumps(error.to_dict()))
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
