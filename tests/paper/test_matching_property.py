"""The paper fill model (``paper.matching``) against brute-force references, over random books,
sizes, step sizes, resting orders and trade tapes (hypothesis).

``walk_book``: fills never exceed their levels, come in level order without skipping liquidity,
total min(wanted, what the book holds within the limit), and a ``quoteOrderQty`` walk never spends
(or receives) more than asked. ``match_trades``: a trade's quantity is never handed out twice to
one side's orders, a trade at the price fills only after the queue that stood ahead, and no trade
at or before an order's ``after_trade`` ever fills it."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal as D
from fractions import Fraction

from binance_spot_mcp.paper.matching import (
    BUY,
    SELL,
    AggTrade,
    Level,
    Resting,
    filled,
    match_trades,
    walk_book,
)
from hypothesis import given, settings
from hypothesis import strategies as st

STEPS = [D(0), D("0.0001"), D("0.001"), D("0.01"), D(1)]
EXAMPLES = settings(max_examples=300, deadline=None)


def _levels(side: str, prices: list[int], qtys: list[int], lot: D) -> list[Level]:
    """The opposite side of the book for ``side``: asks upwards for a BUY, bids downwards for a SELL.
    Every level holds a whole number of lots, as a real book does (LOT_SIZE)."""
    ordered = sorted(set(prices), reverse=(side == SELL))
    return [Level(D(p) / 100, q * lot) for p, q in zip(ordered, qtys)]


@st.composite
def books(draw: st.DrawFn, step: D = D("0.0001")) -> tuple[str, list[Level]]:
    side = draw(st.sampled_from([BUY, SELL]))
    prices = draw(st.lists(st.integers(1, 10_000_000), min_size=0, max_size=12, unique=True))
    lot = step or D("0.0001")
    qtys = draw(st.lists(st.integers(1, int(500 / lot)), min_size=len(prices), max_size=len(prices)))
    return side, _levels(side, prices, qtys, lot)


def stepped_books(steps: list[D]) -> st.SearchStrategy[tuple[D, tuple[str, list[Level]]]]:
    return st.sampled_from(steps).flatmap(lambda step: st.tuples(st.just(step), books(step)))


def _within(side: str, levels: list[Level], limit: D | None) -> list[Level]:
    if limit is None:
        return list(levels)
    return [lvl for lvl in levels if (lvl.price <= limit if side == BUY else lvl.price >= limit)]


def _limit(draw: st.DrawFn, levels: list[Level]) -> D | None:
    if not levels or draw(st.booleans()):
        return None
    choices = [lvl.price for lvl in levels] + [D(draw(st.integers(1, 10_000_000))) / 100]
    return draw(st.sampled_from(choices))


def _check_receipts(fills: list, levels: list[Level], book_id: int) -> None:
    for index, fill in enumerate(fills):
        level = levels[index]  # in level order, none skipped
        assert fill.price == level.price and 0 < fill.qty <= level.qty
        assert fill.receipt["level"] == index and fill.receipt["lastUpdateId"] == book_id
        assert fill.receipt["levelQty"] == str(level.qty)


@EXAMPLES
@given(books(), st.data())
def test_a_quantity_walk_takes_exactly_the_prefix_of_the_book_it_needs(book, data):
    side, levels = book
    wanted = D(data.draw(st.integers(1, 30_000_000))) / 10_000
    limit = _limit(data.draw, levels)
    fills = walk_book(side, levels, quantity=wanted, limit_price=limit, book_id=7)
    _check_receipts(fills, levels, 7)
    usable = _within(side, levels, limit)
    total = min(wanted, sum((lvl.qty for lvl in usable), D(0)))
    # Brute force: level i gets what the cumulative book ahead of it leaves of the total.
    expected, before = [], D(0)
    for lvl in usable:
        take = max(D(0), min(lvl.qty, total - before))
        before += lvl.qty
        if take > 0:
            expected.append((lvl.price, take))
    assert [(f.price, f.qty) for f in fills] == expected
    assert filled(fills)[0] == total


@EXAMPLES
@given(stepped_books(STEPS), st.data())
def test_a_quote_walk_never_spends_more_than_asked_and_stops_only_when_it_must(stepped, data):
    step, (side, levels) = stepped
    quote = D(data.draw(st.integers(1, 10**13))) / 10**4
    limit = _limit(data.draw, levels)
    fills = walk_book(side, levels, quote_quantity=quote, limit_price=limit, step=step, book_id=3)
    _check_receipts(fills, levels, 3)
    spent = sum((Fraction(f.price) * Fraction(f.qty) for f in fills), Fraction(0))
    assert spent <= Fraction(quote), f"spent {float(spent)} of {quote}"
    if step:
        assert all(Fraction(f.qty) % Fraction(step) == 0 for f in fills)
    assert all(f.qty == lvl.qty for f, lvl in zip(fills[:-1], levels))  # only the last level is left partly
    usable = _within(side, levels, limit)
    left = Fraction(quote) - spent
    # Where the walk stopped, not one more step could be taken: the last level was left partly
    # because the rest of the quote buys less than a step there, or the next level is priced so.
    if fills and fills[-1].qty < levels[len(fills) - 1].qty:
        stop_price = fills[-1].price
    elif len(fills) < len(usable):
        stop_price = usable[len(fills)].price
    else:
        return  # the book within the limit is exhausted
    if step:
        assert left < Fraction(stop_price) * Fraction(step)
    else:
        assert left <= Fraction(quote) / 10**20  # Decimal division's last digit, nothing more


@EXAMPLES
@given(stepped_books(STEPS[1:]), st.data())
def test_the_two_kinds_agree_a_quantity_walk_for_what_a_quote_walk_bought_fills_the_same(stepped, data):
    step, (side, levels) = stepped
    quote = D(data.draw(st.integers(1, 10**13))) / 10**4
    by_quote = walk_book(side, levels, quote_quantity=quote, step=step)
    qty = filled(by_quote)[0]
    if qty > 0:
        by_qty = walk_book(side, levels, quantity=qty)
        assert [(f.price, f.qty) for f in by_qty] == [(f.price, f.qty) for f in by_quote]


# -- resting orders and the trade tape ------------------------------------------------------------

PRICES = [D(p) for p in (99, 100, 101, 102)]


@st.composite
def resting_orders(draw: st.DrawFn, sides: tuple[str, ...] = (BUY, SELL)) -> list[Resting]:
    count = draw(st.integers(1, 6))
    out = []
    for key in range(1, count + 1):
        out.append(Resting(
            key=key, side=draw(st.sampled_from(sides)), price=draw(st.sampled_from(PRICES)),
            remaining=D(draw(st.integers(1, 50))) / 10, queue_ahead=D(draw(st.integers(0, 30))) / 10,
            after_trade=draw(st.integers(0, 12)), placed=key,
        ))
    return out


@st.composite
def tapes(draw: st.DrawFn) -> list[AggTrade]:
    ids = sorted(draw(st.lists(st.integers(1, 40), min_size=0, max_size=20, unique=True)))
    return [AggTrade(i, draw(st.sampled_from(PRICES)), D(draw(st.integers(1, 40))) / 10, draw(st.booleans()), 1000 + i)
            for i in ids]


def _copy(orders: list[Resting]) -> list[Resting]:
    return [Resting(o.key, o.side, o.price, o.remaining, o.queue_ahead, o.after_trade, o.placed) for o in orders]


def _better(order: Resting, trade: AggTrade) -> bool:
    return trade.price < order.price if order.side == BUY else trade.price > order.price


def _at_price_eligible(order: Resting, trade: AggTrade) -> bool:
    """A trade at the order's price whose aggressor came from the other side."""
    return trade.price == order.price and (trade.buyer_is_maker if order.side == BUY else not trade.buyer_is_maker)


@EXAMPLES
@given(resting_orders(), tapes())
def test_trades_fill_resting_orders_only_as_the_market_allows(orders, trades):
    before = {o.key: o for o in _copy(orders)}
    out = match_trades(orders, trades)
    by_id = {t.id: t for t in trades}
    per_trade_side: dict[tuple[int, str], D] = defaultdict(D)
    per_order: dict[int, D] = defaultdict(D)
    at_price_fill: dict[int, D] = defaultdict(D)
    for key, fill in out:
        order, trade = before[key], by_id[fill.receipt["aggTradeId"]]
        assert trade.id > order.after_trade, "a trade from before the order was placed filled it"
        assert fill.price == order.price and fill.qty > 0  # maker: at its own price
        assert _better(order, trade) or _at_price_eligible(order, trade)
        per_trade_side[(trade.id, order.side)] += fill.qty
        per_order[key] += fill.qty
        if trade.price == order.price:
            at_price_fill[key] += fill.qty
    for (trade_id, _), used in per_trade_side.items():
        assert used <= by_id[trade_id].qty, "one trade's quantity was handed out twice"
    after = {o.key: o for o in orders}
    for key, order in before.items():
        assert per_order[key] <= order.remaining
        assert after[key].remaining == order.remaining - per_order[key]
        at_volume = sum((t.qty for t in trades if t.id > order.after_trade and _at_price_eligible(order, t)), D(0))
        # at its price it gets at most what traded there beyond the queue that stood ahead of it
        assert at_price_fill[key] <= max(D(0), at_volume - order.queue_ahead)
        assert D(0) <= after[key].queue_ahead <= order.queue_ahead
    # the fills come in tape order
    ids = [f.receipt["aggTradeId"] for _, f in out]
    assert ids == sorted(ids)


@EXAMPLES
@given(resting_orders(sides=(BUY,)).map(lambda o: o[:1]), tapes())
def test_a_lone_order_fills_exactly_what_traded_through_it_and_beyond_its_queue(orders, trades):
    (order,) = _copy(orders)
    out = match_trades(orders, trades)
    seen = [t for t in trades if t.id > order.after_trade]
    through = sum((t.qty for t in seen if _better(order, t)), D(0))
    at_price = sum((t.qty for t in seen if _at_price_eligible(order, t)), D(0))
    expected = min(order.remaining, through + max(D(0), at_price - order.queue_ahead))
    assert sum((f.qty for _, f in out), D(0)) == expected
    assert orders[0].queue_ahead == max(D(0), order.queue_ahead - at_price) or orders[0].remaining == 0


def test_a_trade_at_or_before_the_placement_never_fills():
    order = Resting(1, BUY, D(100), D(1), D(0), after_trade=5, placed=1)
    assert match_trades([order], [AggTrade(5, D(90), D(3), True, 1), AggTrade(4, D(90), D(3), True, 1)]) == []
    assert [f.qty for _, f in match_trades([order], [AggTrade(6, D(90), D("0.4"), True, 1)])] == [D("0.4")]
