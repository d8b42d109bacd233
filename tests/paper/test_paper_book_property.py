"""A paper MARKET order's fills equal walking the live book, end to end (hypothesis): random books
are put on the fake exchange (sometimes deeper than the first 100-level snapshot), and a paper
order by quantity or by quoteOrderQty, BUY or SELL, goes through the real server. Its fills must
be exactly a brute-force walk of that book (exact fractions, whole lots), one fill per level with
a receipt naming the snapshot and the level, FILLED when the book held enough and EXPIRED (never
invented liquidity) when it did not; and the fake sees no signed request."""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction
from pathlib import Path

import anyio
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.e2e_support import memory_client
from tests.fake_binance.engine import Book, Order
from tests.paper.paper_support import result, signed_requests, write_paper_tools

LOT = D("0.00001")  # BTCUSDT's LOT_SIZE step on the fake (MARKET_LOT_SIZE has none)
MID = 60000


@st.composite
def books(draw: st.DrawFn) -> tuple[list[tuple[D, D]], list[tuple[D, D]]]:
    """(bids best first, asks best first): prices anywhere from 0.1 to 30,000 USDT off 60,000 (so a
    lot is worth quite different amounts from level to level), sizes in whole lots. A deep book
    has 101 to 130 small levels: more than the first snapshot's 100."""
    deep = draw(st.booleans())
    count = draw(st.integers(101, 130) if deep else st.integers(1, 12))
    offsets = st.lists(st.integers(1, 300_000), min_size=count, max_size=count, unique=True)
    sizes = st.integers(1, 1_000 if deep else 50_000)  # up to 0.01 BTC, or 0.5 BTC
    asks = [(D(MID) + D(o) / 10, draw(sizes) * LOT) for o in sorted(draw(offsets))]
    bids = [(D(MID) - D(o) / 10, draw(sizes) * LOT) for o in sorted(draw(offsets))]
    return bids, asks


def expected_walk(levels: list[tuple[D, D]], quantity: D | None, quote: D | None) -> list[tuple[D, D]]:
    """Brute force with exact fractions: level by level, whole lots, never past the order's size."""
    out = []
    left_qty = Fraction(quantity) if quantity is not None else None
    left_quote = Fraction(quote) if quote is not None else None
    lot = Fraction(LOT)
    for price, qty in levels:
        if left_qty is not None:
            take = min(left_qty, Fraction(qty))
        else:
            assert left_quote is not None
            take = min(Fraction(qty), (left_quote / Fraction(price)) // lot * lot)
        if take <= 0:
            break
        out.append((price, D(take.numerator) / D(take.denominator)))
        if left_qty is not None:
            left_qty -= take
            if left_qty == 0:
                break
        else:
            assert left_quote is not None
            left_quote -= take * Fraction(price)
            if take < Fraction(qty):
                break  # the rest buys less than a lot here
    return out


def put_book(fake, bids: list[tuple[D, D]], asks: list[tuple[D, D]]) -> None:
    ex = fake.exchange
    with ex.lock:
        book = Book(ex.symbols["BTCUSDT"])
        for side, levels in (("BUY", bids), ("SELL", asks)):
            for price, qty in levels:
                book.add(Order("BTCUSDT", 0, "seed", side, "LIMIT", price, qty, working_time=0))
        ex.books["BTCUSDT"] = book


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(books(), st.sampled_from(["BUY", "SELL"]), st.sampled_from(["quantity", "quote", "whole levels"]),
       st.integers(1, 130), st.integers(0, 10**6))
def test_a_paper_market_order_fills_exactly_as_walking_the_live_book(tmp_path, fake_exchange, book, side, kind,
                                                                      percent, pick):
    """``percent``: the order's size as a share of what the book holds (over 100: more than it holds)."""
    bids, asks = book
    fake_exchange.exchange.weight_limit_per_minute = 10_000_000  # many servers in a minute, deep books
    put_book(fake_exchange, bids, asks)
    opposite = asks if side == "BUY" else bids
    held = sum((q for _, q in opposite), D(0))
    worth = sum((p * q for p, q in opposite), D(0))
    quantity = quote = None
    if kind == "quantity":
        quantity = max(10 * LOT, (held * percent / 100 / LOT).to_integral_value() * LOT)
    elif kind == "quote":
        quote = (worth * percent / 100).quantize(D("0.01"))
    else:  # exactly some levels' worth and a cent: the cent buys no lot at the next level
        whole = 1 + pick % len(opposite)
        quote = sum((p * q for p, q in opposite[:whole]), D(0)) + D("0.01")
    assume(quote is None or quote >= 5)  # the NOTIONAL filter's minimum (a quantity is checked at the avg price)
    assume(quantity is None or quantity * MID >= 10)
    by_quote = quantity is None
    params = {"symbol": "BTCUSDT", "side": side, "type": "MARKET",
              **({"quoteOrderQty": str(quote)} if by_quote else {"quantity": str(quantity)})}
    want = expected_walk(opposite, quantity, quote)
    directory = Path(tmp_path) / f"ex{len(list(Path(tmp_path).iterdir()))}"
    directory.mkdir()
    tools = write_paper_tools(directory, fake_exchange.base_url, f"### main\n- Environment: paper\n- Base URL: "
                              f"{fake_exchange.base_url}\n- Paper Balances: 100000000 USDT, 10000 BTC\n")

    async def run() -> dict:
        async with memory_client(tools, "legacy", fake_exchange.base_url) as client:
            reply = await client.call_tool("place_order", params)
            assert not reply.is_error, reply.content[0].text
            return result(reply)

    placed = anyio.run(run)
    assert [(D(f["price"]), D(f["qty"])) for f in placed["fills"]] == want
    assert [f["paperReceipt"]["level"] for f in placed["fills"]] == list(range(len(want)))
    ids = {f["paperReceipt"]["lastUpdateId"] for f in placed["fills"]}
    assert len(ids) <= 1 and ids <= {fake_exchange.exchange.books["BTCUSDT"].update_id}
    book_total = sum((q for _, q in opposite), D(0))
    spent = sum((p * q for p, q in want), D(0))
    if by_quote:
        ran_out = len(want) == len(opposite) and want[-1][1] == opposite[-1][1] and spent < quote
    else:
        assert quantity is not None
        ran_out = quantity > book_total
    assert placed["status"] == ("EXPIRED" if ran_out else "FILLED"), (placed["status"], want)
    assert signed_requests(fake_exchange) == []
