"""Public (security NONE) endpoint handlers: general info and market data."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .errors import ApiError, bad_symbol
from .symbols import SymbolSpec, fmt, rate_limits

if TYPE_CHECKING:  # pragma: no cover
    from .exchange import Exchange
    from .records import Ctx

INTERVAL_MS = {
    "1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000,
    "12h": 43_200_000, "1d": 86_400_000, "3d": 259_200_000, "1w": 604_800_000, "1M": 2_592_000_000,
}
_TZ_RE = re.compile(r"^(-|\+)?(\d{1,2})(:(\d{2}))?$")


def _check_limit(ctx: "Ctx", default: int, maximum: int) -> int:
    limit = ctx.params.get("limit", default)
    if limit <= 0:
        raise ApiError(-1100, "Illegal characters found in parameter 'limit'; legal range is '1-%d'." % maximum)
    return min(limit, maximum)


def _check_tz(ctx: "Ctx") -> None:
    tz = ctx.params.get("timeZone")
    if tz is None:
        return
    match = _TZ_RE.match(tz)
    if not match:
        raise ApiError(-1130, "Data sent for parameter 'timeZone' is not valid.")
    hours = int(match.group(2)) * (-1 if match.group(1) == "-" else 1)
    if not -12 <= hours <= 14:
        raise ApiError(-1130, "Data sent for parameter 'timeZone' is not valid.")


def selected_symbols(ex: "Exchange", ctx: "Ctx", *, default_all: bool = True) -> tuple[list[SymbolSpec], bool]:
    """Resolve symbol/symbols/symbolStatus; returns (specs, single)."""
    p = ctx.params
    if "symbol" in p and "symbols" in p:
        raise ApiError(-1128, "Combination of optional parameters invalid.")
    status = p.get("symbolStatus")
    if "symbol" in p:
        spec = ex.spec(p["symbol"])
        if status is not None and spec.status != status:
            raise ApiError(-1220, "The symbol's status does not match the requested symbolStatus.")
        return [spec], True
    if "symbols" in p:
        names = p["symbols"]
        if any(n not in ex.symbols for n in names):
            raise bad_symbol()
        specs = [ex.symbols[n] for n in names]
    elif default_all:
        specs = list(ex.symbols.values())
    else:
        specs = []
    return [s for s in specs if status is None or s.status == status], False


def ping(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/ping."""
    return {}


def server_time(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/time."""
    return {"serverTime": ctx.now}


def exchange_info(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/exchangeInfo."""
    p = ctx.params
    if "permissions" in p and ("symbol" in p or "symbols" in p):
        raise ApiError(-1128, "Combination of optional parameters invalid.")
    if "symbolStatus" in p and ("symbol" in p or "symbols" in p):
        raise ApiError(-1128, "Combination of optional parameters invalid.")
    specs, _ = selected_symbols(ex, ctx)
    if "permissions" in p:
        wanted = set(p["permissions"])
        specs = [s for s in specs if any(wanted & set(group) for group in s.permission_sets)]
    show = p.get("showPermissionSets", True)
    return {
        "timezone": "UTC",
        "serverTime": ctx.now,
        "rateLimits": rate_limits(ex.weight_limit_per_minute),
        "exchangeFilters": ex.exchange_filters(),
        "symbols": [s.info(show) for s in specs],
        "sors": [{"baseAsset": "BTC", "symbols": ["BTCUSDT", "ETHBTC"]}],
    }


def execution_rules(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/executionRules."""
    if sum(1 for k in ("symbol", "symbols", "symbolStatus") if k in ctx.params) > 1:
        raise ApiError(-1128, "Combination of optional parameters invalid.")
    specs, _ = selected_symbols(ex, ctx)
    rules = [{"ruleType": "PRICE_RANGE", "bidLimitMultUp": "1.0500", "bidLimitMultDown": "0.9500",
              "askLimitMultUp": "1.0500", "askLimitMultDown": "0.9500"}]
    return {"symbolRules": [{"symbol": s.symbol, "rules": rules} for s in specs]}


def depth(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/depth."""
    specs, _ = selected_symbols(ex, ctx)
    limit = _check_limit(ctx, 100, 5000)
    book = ex.books[specs[0].symbol]
    return {"lastUpdateId": book.update_id, "bids": book.depth("BUY", limit), "asks": book.depth("SELL", limit)}


def _public_trade(t: Any) -> dict[str, Any]:
    return {"id": t.trade_id, "price": fmt(t.price), "qty": fmt(t.qty), "quoteQty": fmt(t.price * t.qty),
            "time": t.time, "isBuyerMaker": t.buyer_is_maker, "isBestMatch": True}


def trades(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/trades."""
    spec = ex.spec(ctx.params["symbol"])
    limit = _check_limit(ctx, 500, 1000)
    return [_public_trade(t) for t in ex.trades[spec.symbol][-limit:]]


def historical_trades(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/historicalTrades."""
    spec = ex.spec(ctx.params["symbol"])
    limit = _check_limit(ctx, 500, 1000)
    items = ex.trades[spec.symbol]
    if "fromId" in ctx.params:
        return [_public_trade(t) for t in items if t.trade_id >= ctx.params["fromId"]][:limit]
    return [_public_trade(t) for t in items[-limit:]]


def historical_block_trades(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/historicalBlockTrades (the fake has no block trades)."""
    ex.spec(ctx.params["symbol"])
    _check_limit(ctx, 500, 1000)
    return []


def agg_trades(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/aggTrades (one aggregate per trade)."""
    spec = ex.spec(ctx.params["symbol"])
    limit = _check_limit(ctx, 500, 1000)
    p = ctx.params
    items = [t for t in ex.trades[spec.symbol]
             if t.trade_id >= p.get("fromId", 0) and p.get("startTime", 0) <= t.time <= p.get("endTime", 1 << 62)]
    items = items[:limit] if ("fromId" in p or "startTime" in p) else items[-limit:]
    return [{"a": t.trade_id, "p": fmt(t.price), "q": fmt(t.qty), "f": t.trade_id, "l": t.trade_id,
             "T": t.time, "m": t.buyer_is_maker, "M": True} for t in items]


def klines(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/klines and /api/v3/uiKlines: deterministic synthetic candles."""
    spec = ex.spec(ctx.params["symbol"])
    _check_tz(ctx)
    limit = _check_limit(ctx, 500, 1000)
    step = INTERVAL_MS[ctx.params["interval"]]
    end = ctx.params.get("endTime", ctx.now)
    start = ctx.params.get("startTime")
    last_open = end - end % step
    first_open = last_open - (limit - 1) * step
    if start is not None:
        # With startTime (alone or with endTime): the oldest candles opening at or after startTime.
        first_open = -(-start // step) * step
    out = []
    open_time = first_open
    while open_time <= last_open and len(out) < limit:
        base = spec.ref_price * (1 + Decimal((open_time // step) % 7 - 3) / 1000)
        high, low = base * Decimal("1.001"), base * Decimal("0.999")
        close = base * Decimal("1.0002")
        out.append([open_time, fmt(base), fmt(high), fmt(low), fmt(close), fmt(Decimal(10)), open_time + step - 1,
                    fmt(base * 10), 10, fmt(Decimal(5)), fmt(base * 5), "0"])
        open_time += step
    return out


def avg_price(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/avgPrice."""
    spec = ex.spec(ctx.params["symbol"])
    return {"mins": spec.avg_price_mins, "price": fmt(ex.avg_price(spec.symbol)), "closeTime": ctx.now}


def _stats(ex: "Exchange", spec: SymbolSpec, mini: bool, open_time: int, close_time: int) -> dict[str, Any]:
    last = ex.last_price[spec.symbol]
    open_price = spec.ref_price * Decimal("0.99")
    trades = ex.trades[spec.symbol]
    volume = sum((t.qty for t in trades), Decimal(100))
    quote_volume = sum((t.qty * t.price for t in trades), Decimal(100) * spec.ref_price)
    first_id, last_id = (trades[0].trade_id, trades[-1].trade_id) if trades else (-1, -1)
    out: dict[str, Any] = {"symbol": spec.symbol}
    if not mini:
        change = last - open_price
        out.update({"priceChange": fmt(change), "priceChangePercent": f"{change / open_price * 100:.3f}",
                    "weightedAvgPrice": fmt(quote_volume / volume)})
    out.update({"openPrice": fmt(open_price), "highPrice": fmt(max(last, spec.ref_price) * Decimal("1.01")),
                "lowPrice": fmt(min(last, open_price) * Decimal("0.99")), "lastPrice": fmt(last),
                "volume": fmt(volume), "quoteVolume": fmt(quote_volume), "openTime": open_time,
                "closeTime": close_time, "firstId": first_id, "lastId": last_id, "count": len(trades)})
    return out


def _full_24h(ex: "Exchange", spec: SymbolSpec, mini: bool, now: int) -> dict[str, Any]:
    out = _stats(ex, spec, mini, now - 86_400_000, now)
    if not mini:
        book = ex.books[spec.symbol]
        bid, ask = book.best("BUY"), book.best("SELL")
        extra = {"prevClosePrice": out["openPrice"], "lastQty": fmt(Decimal("0.1")),
                 "bidPrice": fmt(bid.price if bid else Decimal(0)), "bidQty": fmt(bid.remaining if bid else Decimal(0)),
                 "askPrice": fmt(ask.price if ask else Decimal(0)), "askQty": fmt(ask.remaining if ask else Decimal(0))}
        keys = list(out)
        pos = keys.index("openPrice")
        merged = {k: out[k] for k in keys[:pos]} | extra | {k: out[k] for k in keys[pos:]}
        out = merged
    return out


def _one_or_many(items: list[dict[str, Any]], single: bool) -> Any:
    return items[0] if single else items


def ticker_24hr(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/ticker/24hr."""
    specs, single = selected_symbols(ex, ctx)
    mini = ctx.params.get("type") == "MINI"
    return _one_or_many([_full_24h(ex, s, mini, ctx.now) for s in specs], single)


def ticker_trading_day(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/ticker/tradingDay."""
    _check_tz(ctx)
    specs, single = selected_symbols(ex, ctx, default_all=False)
    if len(ctx.params.get("symbols", [])) > 100:
        raise ApiError(-1101, "Too many values sent for parameter 'symbols', max allowed is 100.")
    day_start = ctx.now - ctx.now % 86_400_000
    mini = ctx.params.get("type") == "MINI"
    return _one_or_many([_stats(ex, s, mini, day_start, day_start + 86_399_999) for s in specs], single)


def ticker_price(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/ticker/price."""
    specs, single = selected_symbols(ex, ctx)
    return _one_or_many([{"symbol": s.symbol, "price": fmt(ex.last_price[s.symbol])} for s in specs], single)


def book_ticker(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/ticker/bookTicker."""
    specs, single = selected_symbols(ex, ctx)
    out = []
    for s in specs:
        book = ex.books[s.symbol]
        bid, ask = book.best("BUY"), book.best("SELL")
        zero = Decimal(0)
        out.append({"symbol": s.symbol, "bidPrice": fmt(bid.price if bid else zero),
                    "bidQty": fmt(bid.remaining if bid else zero), "askPrice": fmt(ask.price if ask else zero),
                    "askQty": fmt(ask.remaining if ask else zero)})
    return _one_or_many(out, single)


def rolling_ticker(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/ticker (rolling window)."""
    specs, single = selected_symbols(ex, ctx, default_all=False)
    if len(ctx.params.get("symbols", [])) > 100:
        raise ApiError(-1101, "Too many values sent for parameter 'symbols', max allowed is 100.")
    window = ctx.params.get("windowSize", "1d")
    unit = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}[window[-1]]
    open_time = ctx.now - int(window[:-1]) * unit
    open_time -= open_time % 60_000
    mini = ctx.params.get("type") == "MINI"
    return _one_or_many([_stats(ex, s, mini, open_time, ctx.now) for s in specs], single)


def reference_price(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/referencePrice."""
    spec = ex.spec(ctx.params["symbol"])
    if spec.symbol not in ex.reference_prices:
        raise ApiError(-2043, "This symbol doesn't have a reference price.")
    value = ex.reference_prices[spec.symbol]
    return {"symbol": spec.symbol, "referencePrice": None if value is None else fmt(value, 2),
            "timestamp": ctx.now}


def reference_price_calculation(ex: "Exchange", ctx: "Ctx") -> Any:
    """GET /api/v3/referencePrice/calculation."""
    specs, _ = selected_symbols(ex, ctx)
    spec = specs[0]
    if spec.symbol not in ex.reference_prices:
        raise ApiError(-2043, "This symbol doesn't have a reference price.")
    return {"symbol": spec.symbol, "calculationType": "ARITHMETIC_MEAN", "bucketCount": 10, "bucketWidthMs": 1000}
