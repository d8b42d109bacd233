"""Cost basis and profit and loss from an account's own trades: pure arithmetic, no I/O.

Everything is ``Decimal`` in a context of 34 significant digits; figures are rounded once, when
a result is shown (``money``). All values are in one valuation asset ``V`` (USDT by default),
which is the unit: its own cost is never tracked.

Per trade (Binance's ``myTrades`` shape, see ``Fill``):

* a buy acquires ``qty`` of the base at the trade's value (``quoteQty`` in V at the trade's
  time) and disposes of ``quoteQty`` of the quote; a sell the other way round;
* the fee (``commission`` in ``commissionAsset``) is part of the deal: paid in the asset
  received, it reduces what is received; paid in any other asset (BNB), it is a disposal of that
  asset at its value then. Either way its value is added to a buy's cost or taken from a sale's
  proceeds, so it is counted once;
* a disposal costs the lots it consumes: weighted average (``average``, what Binance shows) or
  first in, first out (``fifo``); its realised P&L is ``proceeds - cost``, counted in the period
  the caller picked (the whole history is replayed for the cost of what is left);
* what the trades cannot explain is never given a cost: a disposal beyond the known lots (the
  coins came from a deposit, Convert, Earn, an airdrop) has no realised P&L, and a holding larger
  than the known lots is covered only in part (``coverage``).

``value_at(asset, time_ms)`` gives one unit of an asset in V at a trade's time (None: unknown);
an acquisition or disposal whose value is unknown is treated as unexplained, never guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

AVERAGE, FIFO = "average", "fifo"
METHODS = (AVERAGE, FIFO)
ZERO = Decimal(0)
PRECISION = Context(prec=34, rounding=ROUND_HALF_EVEN)
MONEY_PLACES = Decimal("0.00000001")
PERCENT_PLACES = Decimal("0.01")

ValueAt = Callable[[str, int], Decimal | None]


@dataclass(frozen=True)
class Fill:
    """One of the account's trades, as ``GET /api/v3/myTrades`` gives it (plus base and quote)."""

    symbol: str
    base: str
    quote: str
    trade_id: int
    order_id: int
    time_ms: int
    is_buyer: bool
    is_maker: bool
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str


@dataclass
class Lots:
    """The known, costed units of one asset: one lot (average) or a queue of lots (FIFO)."""

    method: str
    lots: list[list[Decimal]] = field(default_factory=list)  # [quantity, cost] oldest first

    @property
    def quantity(self) -> Decimal:
        return sum((lot[0] for lot in self.lots), ZERO)

    @property
    def cost(self) -> Decimal:
        return sum((lot[1] for lot in self.lots), ZERO)

    def acquire(self, quantity: Decimal, cost: Decimal) -> None:
        if quantity <= 0:
            return
        if self.method == AVERAGE and self.lots:
            self.lots[0][0] += quantity
            self.lots[0][1] += cost
        else:
            self.lots.append([quantity, cost])

    def dispose(self, quantity: Decimal) -> tuple[Decimal, Decimal]:
        """Take ``quantity`` from the oldest lots: (quantity covered by lots, their cost)."""
        covered, cost = ZERO, ZERO
        while quantity > 0 and self.lots:
            lot = self.lots[0]
            if lot[0] <= quantity:
                covered, cost, quantity = covered + lot[0], cost + lot[1], quantity - lot[0]
                self.lots.pop(0)
                continue
            part = lot[1] * quantity / lot[0]
            lot[0], lot[1] = lot[0] - quantity, lot[1] - part
            covered, cost, quantity = covered + quantity, cost + part, ZERO
        return covered, cost

    def cost_of_newest(self, quantity: Decimal) -> Decimal:
        """The cost of the newest ``quantity`` units (what is left after withdrawals took the oldest)."""
        cost, left = ZERO, quantity
        for lot in reversed(self.lots):
            if left <= 0:
                break
            if lot[0] <= left:
                cost, left = cost + lot[1], left - lot[0]
            else:
                cost, left = cost + lot[1] * left / lot[0], ZERO
        return cost


@dataclass
class AssetLedger:
    """What the trades say about one asset."""

    lots: Lots
    realised: Decimal = ZERO  # in the period
    fees: Decimal = ZERO  # fees paid in this asset, in its own units, in the period
    unexplained_disposed: Decimal = ZERO  # disposed without known lots (whole history)
    unvalued_trades: int = 0  # trades whose value at the time is unknown


@dataclass(frozen=True)
class Period:
    """Realised P&L and fees are counted for trades with ``start_ms <= time < end_ms`` (None: open)."""

    start_ms: int | None = None
    end_ms: int | None = None

    def holds(self, time_ms: int) -> bool:
        return (self.start_ms is None or time_ms >= self.start_ms) and (self.end_ms is None or time_ms < self.end_ms)


@dataclass
class Ledger:
    """Every asset's lots and results after replaying the trades in order."""

    valuation: str
    method: str
    assets: dict[str, AssetLedger] = field(default_factory=dict)
    fees_value: Decimal = ZERO  # fees paid in the period, in V
    unvalued_fees: int = 0
    trades: int = 0

    def book(self, asset: str) -> AssetLedger:
        if asset not in self.assets:
            self.assets[asset] = AssetLedger(Lots(self.method))
        return self.assets[asset]


def replay(fills: Iterable[Fill], *, valuation: str, method: str, value_at: ValueAt, period: Period = Period()) -> Ledger:
    """Replay the trades (sorted here by time, then symbol and id) into a ``Ledger``."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    ledger = Ledger(valuation, method)
    with localcontext(PRECISION):
        for fill in sorted(fills, key=lambda f: (f.time_ms, f.symbol, f.trade_id)):
            _apply(ledger, fill, value_at, period)
    return ledger


def _unit_value(asset: str, time_ms: int, valuation: str, value_at: ValueAt) -> Decimal | None:
    return Decimal(1) if asset == valuation else value_at(asset, time_ms)


def _apply(ledger: Ledger, fill: Fill, value_at: ValueAt, period: Period) -> None:
    ledger.trades += 1
    v = ledger.valuation
    in_period = period.holds(fill.time_ms)
    quote_unit = _unit_value(fill.quote, fill.time_ms, v, value_at)
    value = fill.quote_qty * quote_unit if quote_unit is not None else None
    if fill.is_buyer:
        got_asset, got, paid_asset, paid = fill.base, fill.qty, fill.quote, fill.quote_qty
    else:
        got_asset, got, paid_asset, paid = fill.quote, fill.quote_qty, fill.base, fill.qty
    fee, fee_asset = fill.commission, fill.commission_asset
    fee_value: Decimal | None = ZERO
    if fee > 0:
        if fee_asset == fill.quote:
            fee_value = fee * quote_unit if quote_unit is not None else None
        elif fee_asset == fill.base:
            fee_value = fee * fill.price * quote_unit if quote_unit is not None else None
        else:
            fee_value = _times(fee, _unit_value(fee_asset, fill.time_ms, v, value_at))
        if in_period:
            ledger.book(fee_asset).fees += fee
            if fee_value is None:
                ledger.unvalued_fees += 1
            else:
                ledger.fees_value += fee_value
    received = got - fee if fee_asset == got_asset else got
    if fee > 0 and fee_asset != got_asset:
        _dispose(ledger, fee_asset, fee, fee_value, in_period)  # BNB (or the paid asset) leaves
    if fill.is_buyer:
        cost = value + fee_value if value is not None and fee_value is not None and fee_asset != got_asset else value
        _dispose(ledger, paid_asset, paid, value, in_period)
        _acquire(ledger, got_asset, received, cost)
    else:
        proceeds = value - fee_value if value is not None and fee_value is not None else None
        _dispose(ledger, paid_asset, paid, proceeds, in_period)
        _acquire(ledger, got_asset, received, _times(received, quote_unit))


def _times(quantity: Decimal, unit: Decimal | None) -> Decimal | None:
    return quantity * unit if unit is not None else None


def _acquire(ledger: Ledger, asset: str, quantity: Decimal, cost: Decimal | None) -> None:
    if asset == ledger.valuation:
        return
    book = ledger.book(asset)
    if cost is None:
        book.unvalued_trades += 1  # bought at an unknown value: left unexplained (coverage)
        return
    book.lots.acquire(quantity, cost)


def _dispose(ledger: Ledger, asset: str, quantity: Decimal, proceeds: Decimal | None, in_period: bool) -> None:
    if asset == ledger.valuation or quantity <= 0:
        return
    book = ledger.book(asset)
    covered, cost = book.lots.dispose(quantity)
    book.unexplained_disposed += quantity - covered
    if covered <= 0:
        return
    if proceeds is None:
        book.unvalued_trades += 1
        return
    if in_period:
        book.realised += proceeds * covered / quantity - cost


# -- the holding now ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """One held asset: its value, its cost as far as the trades explain it, and the P&L."""

    asset: str
    quantity: Decimal
    price: Decimal | None  # one unit in V now; None: unpriced
    value: Decimal | None
    covered: Decimal  # units whose cost the trades explain
    cost: Decimal  # of the covered units
    unrealised: Decimal | None  # covered units only

    @property
    def coverage(self) -> Decimal | None:
        """The share (0..1) of the holding whose cost the trades explain; None for no holding."""
        return self.covered / self.quantity if self.quantity > 0 else None

    @property
    def average_cost(self) -> Decimal | None:
        return self.cost / self.covered if self.covered > 0 else None


def position(ledger: Ledger, asset: str, quantity: Decimal, price: Decimal | None) -> Position:
    """The holding of ``asset`` (free + locked) against the trades' lots.

    More units held than the lots explain: the rest came from elsewhere (coverage < 1). Fewer: the
    oldest lots left by withdrawal, the newest are what is held (the average is the same either way).
    """
    with localcontext(PRECISION):
        value = quantity * price if price is not None else None
        if asset == ledger.valuation:
            return Position(asset, quantity, Decimal(1), quantity, quantity, quantity, ZERO)
        book = ledger.assets.get(asset)
        lots = book.lots if book is not None else Lots(ledger.method)
        known = lots.quantity
        covered = min(known, quantity) if quantity > 0 else ZERO
        if covered <= 0:
            cost = ZERO
        elif covered == known:
            cost = lots.cost
        elif ledger.method == AVERAGE:
            cost = lots.cost * covered / known
        else:
            cost = lots.cost_of_newest(covered)
        unrealised = covered * price - cost if price is not None else None
        return Position(asset, quantity, price, value, covered, cost, unrealised)


def money(amount: Decimal | None) -> str | None:
    """A V amount as shown: 8 decimal places, half to even."""
    if amount is None:
        return None
    with localcontext(PRECISION):
        return f"{amount.quantize(MONEY_PLACES):f}"


def percent(share: Decimal | None) -> str | None:
    """A share (0..1) as a percentage with 2 decimals."""
    if share is None:
        return None
    with localcontext(PRECISION):
        return f"{(share * 100).quantize(PERCENT_PLACES):f}"


def allocations(values: Mapping[str, Decimal | None]) -> tuple[Decimal, dict[str, Decimal | None]]:
    """The total of the known values and each asset's share of it (None for unpriced ones)."""
    with localcontext(PRECISION):
        total = sum((v for v in values.values() if v is not None), ZERO)
        return total, {a: (v / total if v is not None and total > 0 else None) for a, v in values.items()}
