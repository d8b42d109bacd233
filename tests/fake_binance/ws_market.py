"""Market stream names and the periodic payloads the fake renders for them (web-socket-streams.md).

:func:`parse_stream` knows every documented stream name: per symbol ``@trade``, ``@aggTrade``,
``@blockTrade``, ``@kline_<i>`` (also ``@kline_<i>@+08:00``), ``@miniTicker``, ``@ticker``,
``@ticker_<1h|4h|1d>``, ``@bookTicker``, ``@avgPrice``, ``@referencePrice``, ``@depth<5|10|20>``
and the diff depth ``@depth``, each depth also with ``@100ms``; for all symbols ``!miniTicker@arr``
and ``!ticker_<1h|4h|1d>@arr``. Symbols are lowercase and may hold Unicode letters and digits
(Binance lists such symbols since 2025-12-02).

:func:`market_snapshot` renders the periodic streams from the exchange's current state (the real
time streams, trades, book tickers and diff depth, come from :mod:`.ws_feed`); the all-market arrays
list only the symbols that traded, as "only tickers that have changed" are present.
:func:`in_time_unit` turns the time fields of a payload into microseconds (``timeUnit=MICROSECOND``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .engine import ZERO
from .symbols import fmt

if TYPE_CHECKING:  # pragma: no cover
    from .exchange import Exchange

KLINE_MS = {"1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
            "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000,
            "12h": 43_200_000, "1d": 86_400_000, "3d": 259_200_000, "1w": 604_800_000, "1M": 2_592_000_000}
WINDOW_MS = {"1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000}
UTC8_MS = 8 * 3_600_000
_INTERVAL = "1s|1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|1w|1M"
STREAM_RE = re.compile(
    r"^(?:(?P<symbol>[a-z0-9\u0080-\U0010ffff]{2,20})@(?P<kind>trade|aggTrade|blockTrade|miniTicker|ticker|"
    r"ticker_(?P<window>1h|4h|1d)|bookTicker|avgPrice|referencePrice|"
    rf"kline_(?P<interval>{_INTERVAL})(?P<utc8>@\+08:00)?|depth(?P<levels>5|10|20)?(?:@100ms)?)"
    r"|!(?P<all>miniTicker|ticker_(?P<all_window>1h|4h|1d))@arr)$"
)
PERIODIC = ("miniTicker", "ticker", "avgPrice", "referencePrice", "kline", "depth5", "depth10", "depth20")
# time fields per payload, in milliseconds unless the connection asked for microseconds
_TIME_KEYS = frozenset({"E", "T", "O", "C", "W"})
_NESTED_TIME_KEYS = frozenset({"t", "T"})


def parse_stream(name: str) -> re.Match[str] | None:
    """The parts of a documented market stream name, or None."""
    return STREAM_RE.match(name)


def is_periodic(name: str) -> bool:
    """Streams rendered once a period from the current state (not event by event)."""
    parts = parse_stream(name)
    if parts is None:
        return False
    if parts["all"]:
        return True
    kind = parts["kind"]
    return kind.startswith(("kline", "ticker")) or kind in PERIODIC


def in_time_unit(payload: Any, micro: bool) -> Any:
    """``payload`` with its time fields in microseconds when ``micro`` (a copy; else unchanged)."""
    if not micro:
        return payload
    if isinstance(payload, list):
        return [in_time_unit(item, micro) for item in payload]
    if not isinstance(payload, dict):
        return payload
    out = dict(payload)
    for key, value in payload.items():
        if key in _TIME_KEYS and isinstance(value, int) and not isinstance(value, bool):
            out[key] = value * 1000
        elif key == "k" and isinstance(value, dict):
            out[key] = {k: v * 1000 if k in _NESTED_TIME_KEYS and isinstance(v, int) else v for k, v in value.items()}
        elif key in ("data", "event"):
            out[key] = in_time_unit(value, micro)
    if payload.get("e") == "referencePrice" and isinstance(payload.get("t"), int):
        out["t"] = payload["t"] * 1000
    if payload.get("e") == "outboundAccountPosition" and isinstance(payload.get("u"), int):
        out["u"] = payload["u"] * 1000  # the time of the last account update (elsewhere "u" is an id)
    return out


def market_snapshot(ex: "Exchange", stream: str, now: int) -> Any:
    """The current payload of a periodic stream, or None when there is nothing to send."""
    parts = parse_stream(stream)
    if parts is None:
        return None
    if parts["all"]:
        traded = [s for s in ex.symbols if ex.trades[s]]
        if parts["all"] == "miniTicker":
            return [_mini_ticker(ex, s, now) for s in traded] or None
        return [_window_ticker(ex, s, now, parts["all_window"]) for s in traded] or None
    symbol = _symbol(ex, parts["symbol"])
    if symbol is None:
        return None
    kind = parts["kind"]
    if kind == "miniTicker":
        return _mini_ticker(ex, symbol, now)
    if kind == "ticker":
        return _ticker(ex, symbol, now)
    if parts["window"]:
        return _window_ticker(ex, symbol, now, parts["window"])
    if kind == "avgPrice":
        tape = ex.trades[symbol]
        return {"e": "avgPrice", "E": now, "s": symbol, "i": "5m", "w": fmt(ex.avg_price(symbol)),
                "T": tape[-1].time if tape else now}
    if kind == "referencePrice":  # the fake's symbols have no reference price: "r" is null
        return {"e": "referencePrice", "s": symbol, "r": None, "t": now}
    if parts["interval"]:
        return _kline(ex, symbol, now, parts["interval"], bool(parts["utc8"]))
    if parts["levels"]:
        book = ex.books[symbol]
        levels = int(parts["levels"])
        return {"lastUpdateId": book.update_id, "bids": book.depth("BUY", levels), "asks": book.depth("SELL", levels)}
    return None


def _symbol(ex: "Exchange", lower: str) -> str | None:
    """The listed symbol a lowercase stream name names (Unicode symbols have no case to change)."""
    for symbol in ex.symbols:
        if symbol.lower() == lower:
            return symbol
    return None


def _stats(ex: "Exchange", symbol: str, since: int) -> dict[str, Any]:
    tape = [t for t in ex.trades[symbol] if t.time >= since]
    last = ex.last_price[symbol]
    volume = sum((t.qty for t in tape), ZERO)
    quote = sum((t.qty * t.price for t in tape), ZERO)
    opening = tape[0].price if tape else last
    change = last - opening
    return {"tape": tape, "last": last, "opening": opening, "volume": volume, "quote": quote, "change": change,
            "high": max((t.price for t in tape), default=last), "low": min((t.price for t in tape), default=last),
            "percent": (change / opening * 100) if opening else ZERO}


def _mini_ticker(ex: "Exchange", symbol: str, now: int) -> dict[str, Any]:
    st = _stats(ex, symbol, now - 86_400_000)
    return {"e": "24hrMiniTicker", "E": now, "s": symbol, "c": fmt(st["last"]), "o": fmt(st["opening"]),
            "h": fmt(st["high"]), "l": fmt(st["low"]), "v": fmt(st["volume"]), "q": fmt(st["quote"])}


def _ticker(ex: "Exchange", symbol: str, now: int) -> dict[str, Any]:
    from .ws_feed import book_top

    st = _stats(ex, symbol, now - 86_400_000)
    tape = st["tape"]
    bid, bid_qty, ask, ask_qty = book_top(ex, symbol)
    return {"e": "24hrTicker", "E": now, "s": symbol, "p": fmt(st["change"]), "P": fmt(st["percent"], 3),
            "w": fmt(st["quote"] / st["volume"] if st["volume"] else st["last"]), "x": fmt(st["opening"]),
            "c": fmt(st["last"]), "Q": fmt(tape[-1].qty if tape else ZERO), "b": bid, "B": bid_qty, "a": ask,
            "A": ask_qty, "o": fmt(st["opening"]), "h": fmt(st["high"]), "l": fmt(st["low"]),
            "v": fmt(st["volume"]), "q": fmt(st["quote"]), "O": now - 86_400_000, "C": now,
            "F": tape[0].trade_id if tape else -1, "L": tape[-1].trade_id if tape else -1, "n": len(tape)}


def _window_ticker(ex: "Exchange", symbol: str, now: int, window: str) -> dict[str, Any]:
    opened = (now - WINDOW_MS[window]) // 60_000 * 60_000  # "O" starts on a minute
    st = _stats(ex, symbol, opened)
    tape = st["tape"]
    return {"e": f"{window}Ticker", "E": now, "s": symbol, "p": fmt(st["change"]), "P": fmt(st["percent"], 3),
            "o": fmt(st["opening"]), "h": fmt(st["high"]), "l": fmt(st["low"]), "c": fmt(st["last"]),
            "w": fmt(st["quote"] / st["volume"] if st["volume"] else st["last"]), "v": fmt(st["volume"]),
            "q": fmt(st["quote"]), "O": opened, "C": now, "F": tape[0].trade_id if tape else -1,
            "L": tape[-1].trade_id if tape else -1, "n": len(tape)}


def _kline(ex: "Exchange", symbol: str, now: int, interval: str, utc8: bool) -> dict[str, Any]:
    size = KLINE_MS[interval]
    shift = UTC8_MS if utc8 else 0  # bars open and close in UTC+8 (a 6h, 12h, 1d... bar moves)
    start = now - (now + shift) % size
    last = ex.last_price[symbol]
    bar = [t for t in ex.trades[symbol] if t.time >= start]
    return {"e": "kline", "E": now, "s": symbol, "k": {
        "t": start, "T": start + size - 1, "s": symbol, "i": interval,
        "f": bar[0].trade_id if bar else -1, "L": bar[-1].trade_id if bar else -1,
        "o": fmt(bar[0].price if bar else last), "c": fmt(bar[-1].price if bar else last),
        "h": fmt(max((t.price for t in bar), default=last)), "l": fmt(min((t.price for t in bar), default=last)),
        "v": fmt(sum((t.qty for t in bar), ZERO)), "n": len(bar), "x": False,
        "q": fmt(sum((t.qty * t.price for t in bar), ZERO)), "V": "0.00000000", "Q": "0.00000000", "B": "0"}}
