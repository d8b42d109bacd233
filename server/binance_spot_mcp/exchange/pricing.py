"""What an order is worth, in the asset of a cap, from the exchange's own prices.

An order's value is first found in its symbol's quote asset, always erring high:

* LIMIT / LIMIT_MAKER / STOP_LOSS_LIMIT / TAKE_PROFIT_LIMIT: quantity x limit price for a BUY
  (it cannot fill above it); for a SELL quantity x the highest of the limit price, the stop
  price, the best bid and the last price (a SELL priced far below the market fills at the
  market, so a low limit price cannot dodge a cap);
* MARKET: ``quoteOrderQty`` when given; else a BUY costs what walking the ask side of the order
  book for that quantity costs, a SELL quantity x the higher of the best bid and the last price;
* STOP_LOSS / TAKE_PROFIT (market on trigger): quantity x the highest of the stop price and the
  market's bid, ask and last price, raised by ``trailingDelta`` basis points when trailing;
* pegged orders: quantity x the highest of bid, ask and last;
* order lists: the sum over the orders that can all execute, where only one of an OCO pair can
  (working + the larger of above/below); an OPO's pending order takes the working quantity;
* cancel-replace: the new order; amend: the order with its new quantity.

Then it is converted into the cap's asset: directly when a pair of the two assets trades (at
the price that makes the value higher), else through one bridge asset (``BRIDGE_ASSETS``:
quote -> bridge -> cap, each step a direct pair). A value that cannot be found this way, or
prices that cannot be read, or a quote that is not a finite positive number (0, negative, NaN,
Infinity), raise ``Unpriceable``: the order is refused where a cap applies, never guessed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from binance_spot_mcp.errors import BinanceSpotError, ExchangeError, Unpriceable
from binance_spot_mcp.exchange.order_legs import order_legs

BRIDGE_ASSETS = ("USDT", "USDC", "BTC")
DEPTH_LIMIT = 100
PAIR_CACHE_TTL_S = 3600.0
BASIS_POINTS = Decimal(10_000)
UNKNOWN_SYMBOL_CODE = -1121
_ONE_OF_LISTS = {"place_oco_deprecated", "place_order_list_oco"}
_WORKING_PLUS_PENDING = {"place_order_list_oto", "place_order_list_opo"}
_WORKING_PLUS_PAIR = {"place_order_list_otoco", "place_order_list_opoco"}
AMEND_TOOL = "amend_order_keep_priority"

# read(tool, [(name, value), ...]) -> reply data of a public market-data tool
PublicRead = Callable[[str, list[tuple[str, str]]], Awaitable[Any]]
# info(symbol) -> the symbol's exchangeInfo entry, or None when it cannot be had
SymbolInfo = Callable[[str], Awaitable[Mapping[str, Any] | None]]


def _dec(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and number > 0 else None


@dataclass(frozen=True)
class Quote:
    """Best bid, best ask and last price of a symbol. None: the exchange's figure was missing or
    not a finite positive number (0, negative, NaN, Infinity). Such a quote is never dropped in
    favour of the others: a price that uses it raises ``Unpriceable`` (a bad bid or last price
    dropped would let a SELL be valued at its own low limit price)."""

    bid: Decimal | None
    ask: Decimal | None
    last: Decimal | None
    symbol: str = ""

    def _all(self, **named: Decimal | None) -> list[Decimal]:
        bad = [name.replace("_", " ") for name, v in named.items() if v is None]
        if bad:
            raise Unpriceable(
                f"the exchange's {' and '.join(bad)} of {self.symbol or 'this symbol'} is missing or not a positive "
                "number, so the order cannot be valued"
            )
        return [v for v in named.values() if v is not None]

    def high(self, *extra: Decimal | None) -> Decimal:
        return max(self._all(best_bid=self.bid, best_ask=self.ask, last_price=self.last) + _given(extra))

    def sell_high(self, *extra: Decimal | None) -> Decimal:
        """The most a SELL could fetch per unit right now (or at its own higher price)."""
        return max(self._all(best_bid=self.bid, last_price=self.last) + _given(extra))

    def low(self) -> Decimal:
        return min(self._all(best_bid=self.bid, last_price=self.last))


def _given(values: Sequence[Decimal | None]) -> list[Decimal]:
    """The order's own prices that it names (a missing limit or stop price is no price)."""
    return [v for v in values if v is not None]


class PairBook:
    """Which symbols exist on which host, remembered for ``PAIR_CACHE_TTL_S`` (shared by checks)."""

    def __init__(self, ttl_s: float = PAIR_CACHE_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._known: dict[tuple[str, str], tuple[float, bool]] = {}

    def get(self, host: str, symbol: str) -> bool | None:
        hit = self._known.get((host, symbol))
        return hit[1] if hit is not None and hit[0] > self._clock() else None

    def put(self, host: str, symbol: str, exists: bool) -> None:
        self._known[(host, symbol)] = (self._clock() + self._ttl_s, exists)


class Market:
    """Prices for one check: each symbol's quote and book is read at most once."""

    def __init__(self, read: PublicRead, info: SymbolInfo, pairs: PairBook, host: str) -> None:
        self._read = read
        self._info = info
        self._pairs = pairs
        self._host = host
        self._quotes: dict[str, Quote | None] = {}

    async def assets(self, symbol: str) -> tuple[str, str]:
        """(base asset, quote asset) of ``symbol`` from exchangeInfo."""
        entry = await self._info(symbol)
        base = entry.get("baseAsset") if entry else None
        quote = entry.get("quoteAsset") if entry else None
        if not base or not quote:
            raise Unpriceable(f"the assets of {symbol} could not be read from exchangeInfo")
        return str(base).upper(), str(quote).upper()

    async def _fetch_quote(self, symbol: str) -> Quote | None:
        try:
            book = await self._read("get_book_ticker", [("symbol", symbol)])
            last = await self._read("get_ticker_price", [("symbol", symbol)])
        except ExchangeError as exc:
            if exc.code == UNKNOWN_SYMBOL_CODE:
                return None
            raise Unpriceable(f"prices of {symbol} could not be read ({exc.msg})") from None
        except BinanceSpotError as exc:
            raise Unpriceable(f"prices of {symbol} could not be read ({exc.message})") from None
        book = book if isinstance(book, Mapping) else {}
        last = last if isinstance(last, Mapping) else {}
        return Quote(_dec(book.get("bidPrice")), _dec(book.get("askPrice")), _dec(last.get("price")), symbol)

    async def maybe_quote(self, symbol: str) -> Quote | None:
        """The symbol's quote, or None when no such symbol trades on this host."""
        if self._pairs.get(self._host, symbol) is False:
            return None
        if symbol not in self._quotes:
            self._quotes[symbol] = await self._fetch_quote(symbol)
            self._pairs.put(self._host, symbol, self._quotes[symbol] is not None)
        return self._quotes[symbol]

    async def quote(self, symbol: str) -> Quote:
        found = await self.maybe_quote(symbol)
        if found is None:
            raise Unpriceable(f"{symbol} is not a symbol on this exchange")
        return found

    async def buy_cost(self, symbol: str, quantity: Decimal) -> Decimal:
        """What buying ``quantity`` at market costs now: the ask side of the book, walked."""
        try:
            book = await self._read("get_order_book", [("symbol", symbol), ("limit", str(DEPTH_LIMIT))])
        except BinanceSpotError as exc:
            raise Unpriceable(f"the order book of {symbol} could not be read ({exc.message})") from None
        left, cost = quantity, Decimal(0)
        for level in (book or {}).get("asks") or []:
            price, size = _dec(level[0]), _dec(level[1])
            if price is None:  # a level at 0, NaN or Infinity would make the buy look cheap
                raise Unpriceable(f"the order book of {symbol} has an ask that is not a positive price")
            if size is None:
                continue
            take = min(left, size)
            cost += take * price
            left -= take
            if left <= 0:
                return cost
        raise Unpriceable(
            f"the best {DEPTH_LIMIT} ask levels of {symbol} do not hold {quantity}; a market buy of that size "
            "cannot be valued"
        )

    async def _step(self, value: Decimal, source: str, target: str) -> Decimal | None:
        direct = await self.maybe_quote(source + target)
        if direct is not None:
            return value * direct.high()
        inverse = await self.maybe_quote(target + source)
        if inverse is not None:
            return value / inverse.low()
        return None

    async def convert(self, value: Decimal, source: str, target: str) -> Decimal:
        """``value`` of asset ``source`` expressed in ``target`` (directly, else via one bridge)."""
        if source == target:
            return value
        found = await self._step(value, source, target)
        if found is not None:
            return found
        for bridge in BRIDGE_ASSETS:
            if bridge in (source, target):
                continue
            middle = await self._step(value, source, bridge)
            if middle is None:
                continue
            found = await self._step(middle, bridge, target)
            if found is not None:
                return found
        raise Unpriceable(
            f"no price turns {source} into {target}: no {source}{target} or {target}{source} pair and no "
            f"bridge through {', '.join(BRIDGE_ASSETS)}"
        )


async def _leg_value(leg: Any, symbol: str, market: Market) -> Decimal:
    kind, side, qty = leg.type, leg.side, leg.quantity
    if kind == "MARKET" and leg.quote_qty is not None:
        return leg.quote_qty
    if qty is None:
        raise Unpriceable(f"a {kind or 'order'} without a quantity cannot be valued")
    if leg.pegged:
        return qty * (await market.quote(symbol)).high(leg.price)
    if kind == "MARKET":
        if side == "BUY":
            return await market.buy_cost(symbol, qty)
        return qty * (await market.quote(symbol)).sell_high()
    if kind in ("STOP_LOSS", "TAKE_PROFIT"):
        reference = (await market.quote(symbol)).high(leg.stop_price)
        if leg.trailing_delta is not None:
            reference *= 1 + leg.trailing_delta / BASIS_POINTS
        return qty * reference
    if kind in ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
        if leg.price is None:
            raise Unpriceable(f"a {kind} order without a price cannot be valued")
        if side == "BUY":
            return qty * leg.price
        return qty * (await market.quote(symbol)).sell_high(leg.price, leg.stop_price)
    raise Unpriceable(f"orders of type '{kind or '?'}' cannot be valued")


def _groups(tool: str, legs: Sequence[Any]) -> list[list[Any]]:
    """Orders that can all execute, as groups of which only one member can (an OCO pair)."""
    if tool in _ONE_OF_LISTS:
        return [list(legs)]
    if tool in _WORKING_PLUS_PENDING | _WORKING_PLUS_PAIR:
        working, pending = legs[0], [p if p.quantity is not None else replace(p, quantity=legs[0].quantity) for p in legs[1:]]
        return [[working], pending] if tool in _WORKING_PLUS_PAIR else [[working], *([p] for p in pending)]
    return [[leg] for leg in legs]


async def order_value(
    tool: str, params: Mapping[str, str], market: Market, *, existing: Mapping[str, Any] | None = None
) -> Decimal:
    """The value of the order(s) a call would place, in the symbol's quote asset.

    ``existing`` is the order an amend changes (from get_order); its new quantity is ``newQty``."""
    symbol = params.get("symbol", "")
    if tool == AMEND_TOOL:
        if not existing:
            raise Unpriceable("the order to amend could not be found, so its new value is unknown")
        fields = {k: str(existing[k]) for k in ("type", "side", "price", "stopPrice") if existing.get(k) is not None}
        fields["quantity"] = params.get("newQty", "")
        if _dec(fields.get("stopPrice")) is None:
            fields.pop("stopPrice", None)
        legs = order_legs("place_order", fields)
    else:
        legs = order_legs(tool, params)
    if not legs:
        raise Unpriceable(f"{tool} is not an order this server knows how to value")
    total = Decimal(0)
    for group in _groups(tool, legs):
        total += max([await _leg_value(leg, symbol, market) for leg in group])
    return total
