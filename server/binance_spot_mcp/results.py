"""Tool results: success and error payloads as compact JSON, redacted, escaped and size-capped.

Every result carries text from outside (exchange replies, stream frames, file text), so every
result passes one redaction (``Redactor.redact_data`` and a last pass over the text) and then one
escaping (``visible``: in every string and key, each character a reader cannot see or that
changes how text is shown -- DEL, C1 controls, bidi controls, U+2028/2029, zero-width characters
-- is written out by ``redact.escape_text``, the function approval previews use; JSON escapes
the controls below U+0020 itself). A result with nothing to hide or escape is dumped once and
checked with two scans of its text (the fast path).

A reply longer than the cap (``Settings.max_result_chars``, about 80,000 characters by default)
is cut so that an assistant's context can hold it: the longest top-level lists are shortened
in proportion, the result stays valid JSON, and it says that it was cut, how many items were
kept, and how to narrow the query.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mcp.types import CallToolResult, TextContent

from binance_spot_mcp.errors import BinanceSpotError
from binance_spot_mcp.redact import Redactor, escape_text

# Room kept for the truncation notice itself.
NOTICE_RESERVE_CHARS = 600
SHRINK_STEP = 0.8
# Lists that make up less than this share of a reply (rateLimits, exchangeFilters, ...) are
# context, not bulk: they are kept whole.
BULK_SHARE = 0.1


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _visible_text(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch < " " else escape_text(ch) for ch in text)


def visible(value: Any) -> Any:
    """``value`` (parsed JSON) with every string and key escaped for display (see the module
    docstring); tuples become lists, other values are kept."""
    if isinstance(value, str):
        return _visible_text(value)
    if isinstance(value, dict):
        return {(_visible_text(k) if isinstance(k, str) else k): visible(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [visible(item) for item in value]
    return value


def narrowing_hint(parameters: Sequence[str]) -> str:
    """How to ask for less, from the parameters the tool actually has."""
    ways = []
    if "symbol" in parameters or "symbols" in parameters:
        ways.append("pass symbol (or a short symbols list)")
    if "limit" in parameters:
        ways.append("use a smaller limit")
    if "startTime" in parameters or "endTime" in parameters:
        ways.append("narrow startTime/endTime")
    if "omitZeroBalances" in parameters:
        ways.append("set omitZeroBalances")
    if not ways:
        return "Narrow the query."
    return "To see everything, narrow the query: " + "; ".join(ways) + "."


def _bulk_keys(data: dict[str, Any], total_chars: int) -> set[str]:
    return {k for k, v in data.items() if isinstance(v, list) and v and len(dumps(v)) >= total_chars * BULK_SHARE}


def _cut(data: Any, factor: float, bulk: set[str]) -> tuple[Any, dict[str, tuple[int, int]]]:
    """Keep the first ``factor`` share of every bulk top-level list; report (kept, total) per list."""
    if isinstance(data, list):
        keep = int(len(data) * factor)
        return data[:keep], {"": (keep, len(data))}
    out, counts = {}, {}
    for key, value in data.items():
        if key in bulk:
            keep = int(len(value) * factor)
            out[key] = value[:keep]
            counts[key] = (keep, len(value))
        else:
            out[key] = value
    return out, counts


def cap_data(data: Any, max_chars: int, *, hint: str = "Narrow the query.") -> Any:
    """``data``, or, when its JSON is longer than ``max_chars``, a cut copy (still valid JSON
    once dumped) that says it was cut, how many items were kept and how to narrow the query."""
    text = dumps(data)
    if len(text) <= max_chars:
        return data
    bulk = _bulk_keys(data, len(text)) if isinstance(data, dict) else set()
    if isinstance(data, list) or bulk:
        factor = max(0.0, (max_chars - NOTICE_RESERVE_CHARS) / len(text))
        while True:
            cut, counts = _cut(data, factor, bulk)
            notice = {
                "truncated": True,
                "original_chars": len(text),
                "kept_items": {k or "items": f"{kept} of {total}" for k, (kept, total) in counts.items()},
                "hint": hint,
            }
            body = {"_notice": notice, "items": cut} if isinstance(data, list) else {"_notice": notice, **cut}
            if len(dumps(body)) <= max_chars:
                return body
            if factor == 0.0:
                break
            factor = factor * SHRINK_STEP if factor > 1e-4 else 0.0
    return {"_notice": {"truncated": True, "original_chars": len(text), "kept_items": 0, "hint": hint}}


def cap_json(data: Any, max_chars: int, *, hint: str = "Narrow the query.") -> str:
    """Serialise ``data``; if longer than ``max_chars``, cut it (valid JSON) and say so."""
    return dumps(cap_data(data, max_chars, hint=hint))


def _result(text: str, *, error: bool, redactor: Redactor) -> CallToolResult:
    """Every tool result leaves through here, so every one is redacted (the data was redacted
    before it was serialised; this second pass over the text is defence in depth)."""
    return CallToolResult(content=[TextContent(type="text", text=redactor.redact(text))], is_error=error)


def json_result(payload: Any, *, error: bool, redactor: Redactor) -> CallToolResult:
    """A small payload of our own (no size cap needed), which may quote text from outside."""
    text = dumps(payload)
    clean, printable = redactor.json_is_clean(text), text.isprintable()
    if not (clean and printable):
        payload = payload if clean else redactor.redact_data(payload)
        text = dumps(payload if printable else visible(payload))  # redacted first, then escaped
    return _result(text, error=error, redactor=redactor)


def success(data: Any, *, redactor: Redactor, max_chars: int, hint: str = "Narrow the query.") -> CallToolResult:
    text = dumps(data)
    # with ensure_ascii off, the JSON text shows every string's characters as they are, except the
    # controls below U+0020 that it escapes: so it is printable exactly when nothing needs escaping
    printable = text.isprintable()
    if len(text) <= max_chars and printable and redactor.json_is_clean(text):
        return _result(text, error=False, redactor=redactor)  # nothing to cut, hide or escape
    # cut first (redaction only ever shortens text), then redact the data that is kept, then escape
    kept = redactor.redact_data(cap_data(data, max_chars, hint=hint))
    if not printable:
        kept = visible(kept)
        if len(dumps(kept)) > max_chars:  # escaping lengthened it: cut again (strings stay as they are)
            kept = cap_data(kept, max_chars, hint=hint)
    return _result(dumps(kept), error=False, redactor=redactor)


def failure(error: BinanceSpotError, *, redactor: Redactor) -> CallToolResult:
    return json_result(error.to_dict(), error=True, redactor=redactor)
