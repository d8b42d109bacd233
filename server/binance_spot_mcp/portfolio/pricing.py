"""Prices in the valuation asset: now (every held asset) and at a trade's time (a fee in BNB, a
trade quoted in another asset).

Now: one ``ticker/price`` request for all symbols. An asset is priced by its direct pair (``ETHUSDT``,
or the inverse ``USDTxxx``), else through one bridge asset (``SOL -> BTC -> USDT``), and the
answer names the pair(s) used. An asset with neither is unpriced: listed, never dropped, never
guessed. At a trade's time: the close of the one-minute kline of the direct pair, cached in the
store (a past minute never changes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext

from binance_spot_mcp.portfolio.costs import PRECISION

BRIDGES = ("BTC", "USDT", "ETH", "BNB", "USDC", "FDUSD")
MINUTE_MS = 60_000


@dataclass(frozen=True)
class Market:
    """The symbols Binance lists (base, quote) and their last prices."""

    pairs: Mapping[str, tuple[str, str]]  # symbol -> (base, quote), TRADING symbols only
    prices: Mapping[str, Decimal]  # symbol -> last price (finite, positive)

    def symbol_for(self, base: str, quote: str) -> str | None:
        symbol = base + quote
        return symbol if self.pairs.get(symbol) == (base, quote) else None

    def quotes(self) -> set[str]:
        return {quote for _, quote in self.pairs.values()}


@dataclass(frozen=True)
class Price:
    """One unit of an asset in the valuation asset, and how it was found."""

    asset: str
    value: Decimal | None
    pairs: tuple[str, ...]  # the symbols used, in order; () for the valuation asset itself


def _leg(market: Market, asset: str, to: str) -> tuple[Decimal, str] | None:
    """One unit of ``asset`` in ``to`` through one pair, direct or inverse."""
    direct = market.symbol_for(asset, to)
    if direct is not None and direct in market.prices:
        return market.prices[direct], direct
    inverse = market.symbol_for(to, asset)
    if inverse is not None and inverse in market.prices:
        return Decimal(1) / market.prices[inverse], inverse
    return None


def price_of(market: Market, asset: str, valuation: str) -> Price:
    """The direct pair, else one bridge; else unpriced."""
    if asset == valuation:
        return Price(asset, Decimal(1), ())
    with localcontext(PRECISION):
        leg = _leg(market, asset, valuation)
        if leg is not None:
            return Price(asset, leg[0], (leg[1],))
        for bridge in BRIDGES:
            if bridge in (asset, valuation):
                continue
            first = _leg(market, asset, bridge)
            second = _leg(market, bridge, valuation) if first is not None else None
            if first is not None and second is not None:
                return Price(asset, first[0] * second[0], (first[1], second[1]))
    return Price(asset, None, ())


def market_from(exchange_info: Mapping[str, object], tickers: Iterable[Mapping[str, object]]) -> Market:
    """A ``Market`` from ``exchangeInfo`` and ``ticker/price`` replies (odd entries are skipped)."""
    pairs: dict[str, tuple[str, str]] = {}
    symbols = exchange_info.get("symbols")
    for entry in symbols if isinstance(symbols, list) else []:
        if not isinstance(entry, dict) or entry.get("status", "TRADING") != "TRADING":
            continue
        symbol, base, quote = entry.get("symbol"), entry.get("baseAsset"), entry.get("quoteAsset")
        if isinstance(symbol, str) and isinstance(base, str) and isinstance(quote, str):
            pairs[symbol] = (base, quote)
    prices: dict[str, Decimal] = {}
    for ticker in tickers:
        symbol, raw = ticker.get("symbol"), ticker.get("price")
        value = to_decimal(raw)
        if isinstance(symbol, str) and symbol in pairs and value is not None and value > 0:
            prices[symbol] = value
    return Market(pairs, prices)


def to_decimal(raw: object) -> Decimal | None:
    """A finite Decimal from Binance's decimal string, else None."""
    if not isinstance(raw, str | int):
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def minute_of(time_ms: int) -> int:
    return time_ms - time_ms % MINUTE_MS


def rate_symbol(market: Market, asset: str, valuation: str) -> tuple[str, bool] | None:
    """The pair that values ``asset`` in ``valuation`` at a past time: (symbol, inverse?)."""
    direct = market.symbol_for(asset, valuation)
    if direct is not None:
        return direct, False
    inverse = market.symbol_for(valuation, asset)
    return (inverse, True) if inverse is not None else None
