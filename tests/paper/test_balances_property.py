"""Balances never go negative (hypothesis): random sequences of paper operations (MARKET and LIMIT
orders both ways, by quantity and by quote, LIMIT_MAKER, stops, cancels, the market moving and
trading) on the real desk, ledger and SQLite store, with an in-process stub market (deterministic
books and trades). After every step:

* every free and locked balance is >= 0;
* each asset's locked amount is exactly what its open orders still hold (``locked_left``), and an
  order that is done holds nothing;
* every asset's total (free + locked) is the starting amount plus what the account's trades moved
  (paid, received, commission): no fill moves money it does not record, and none is lost;
* every order's executed quantity and quote are the sums of its trades, never above its quantity,
  and a FILLED order executed all of it.

The operations include amends, cancel-replace and OCO lists (placed and canceled).
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import anyio
from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.errors import ExchangeError
from binance_spot_mcp.paper.desk import PaperDesk
from binance_spot_mcp.paper.ledger import OPEN_STATUSES, Ledger
from binance_spot_mcp.paper.settings import PaperSettings
from binance_spot_mcp.store import Store
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.paper.paper_stub import BASE, QUOTE, SYMBOL, StubAccount, StubMarket

START = ((QUOTE, D(1000)), (BASE, D(3)))
CATALOG = load_catalog()

sides = st.sampled_from(["BUY", "SELL"])
prices = st.integers(85, 115)
qtys = st.integers(1, 300).map(lambda n: D(n) / 100)  # 0.01 .. 3 BTC, at ~100 USDT
operations = st.one_of(
    st.tuples(st.just("book"), st.integers(90, 110), st.lists(st.integers(1, 200), min_size=10, max_size=10)),
    st.tuples(st.just("market"), sides, qtys),
    st.tuples(st.just("market_quote"), sides, st.integers(1, 700)),
    st.tuples(st.just("limit"), sides, prices, qtys, st.sampled_from(["GTC", "IOC", "FOK"])),
    st.tuples(st.just("maker"), sides, prices, qtys),
    st.tuples(st.just("stop"), st.sampled_from(["STOP_LOSS", "TAKE_PROFIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"]),
              sides, prices, qtys),
    st.tuples(st.just("cancel"), st.integers(0, 20)),
    st.tuples(st.just("amend"), st.integers(0, 20), st.integers(1, 99)),
    st.tuples(st.just("replace"), st.integers(0, 20), sides, prices, qtys),
    st.tuples(st.just("oco"), sides, prices, prices, st.sampled_from(["STOP_LOSS", "STOP_LOSS_LIMIT"]), qtys),
    st.tuples(st.just("cancel_list"), st.integers(0, 20)),
    st.tuples(st.just("tape"), st.lists(st.tuples(prices, st.integers(1, 300), st.booleans()), min_size=1, max_size=8)),
)


def _order_params(op: tuple[Any, ...]) -> dict[str, str]:
    kind = op[0]
    base = {"symbol": SYMBOL}
    if kind == "market":
        return {**base, "side": op[1], "type": "MARKET", "quantity": str(op[2])}
    if kind == "market_quote":
        return {**base, "side": op[1], "type": "MARKET", "quoteOrderQty": str(op[2])}
    if kind == "limit":
        return {**base, "side": op[1], "type": "LIMIT", "price": str(op[2]), "quantity": str(op[3]), "timeInForce": op[4]}
    if kind == "maker":
        return {**base, "side": op[1], "type": "LIMIT_MAKER", "price": str(op[2]), "quantity": str(op[3])}
    params = {**base, "type": op[1], "side": op[2], "stopPrice": str(op[3]), "quantity": str(op[4])}
    if op[1].endswith("_LIMIT"):
        params.update(price=str(op[3]), timeInForce="GTC")
    return params


def _oco_params(op: tuple[Any, ...]) -> dict[str, str]:
    """A SELL OCO: a LIMIT_MAKER above and a stop below; a BUY OCO: the stop above, the maker below."""
    _, side, maker_price, stop_price, stop_type, qty = op
    maker = {"Type": "LIMIT_MAKER", "Price": str(maker_price)}
    stop = {"Type": stop_type, "StopPrice": str(stop_price)}
    if stop_type.endswith("_LIMIT"):
        stop.update(Price=str(stop_price), TimeInForce="GTC")
    above, below = (maker, stop) if side == "SELL" else (stop, maker)
    return {"symbol": SYMBOL, "side": side, "quantity": str(qty), **{f"above{k}": v for k, v in above.items()},
            **{f"below{k}": v for k, v in below.items()}}


class Session:
    def __init__(self, directory: Path) -> None:
        self.market = StubMarket()
        self.market.set_book([(D(99 - i), D(1)) for i in range(5)], [(D(101 + i), D(1)) for i in range(5)])
        self.market.trade(D(100), D("0.1"), False)
        self.clock = iter(range(1_700_000_000_000, 1_800_000_000_000))
        self.desk = PaperDesk(Store(directory / "desk.sqlite3"), self.market.public, clock_ms=lambda: next(self.clock))
        self.account = StubAccount(paper=PaperSettings(balances=START))

    async def call(self, tool: str, params: dict[str, str]) -> Any:
        endpoint = CATALOG.get(tool)
        assert endpoint is not None
        try:
            return await self.desk.handle(endpoint, list(params.items()), self.account)
        except ExchangeError as exc:  # refusals in Binance's codes are fine; anything else is a bug
            assert exc.code in (-2010, -1013, -2011, -1102, -2021, -2022, -1168), exc
            return None

    async def step(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind == "book":
            mid, sizes = op[1], op[2]
            self.market.set_book([(D(mid - 1 - i), D(q) / 100) for i, q in enumerate(sizes[:5])],
                                 [(D(mid + 1 + i), D(q) / 100) for i, q in enumerate(sizes[5:])])
        elif kind == "cancel":
            open_orders = await self.call("get_open_orders", {"symbol": SYMBOL}) or []
            if open_orders:
                target = open_orders[op[1] % len(open_orders)]
                await self.call("cancel_order", {"symbol": SYMBOL, "orderId": str(target["orderId"])})
        elif kind in ("amend", "replace"):
            open_orders = [o for o in await self.call("get_open_orders", {"symbol": SYMBOL}) or [] if o["orderListId"] == -1]
            if open_orders:
                target = open_orders[op[1] % len(open_orders)]
                if kind == "amend":
                    new_qty = (D(target["origQty"]) * op[2] / 100).quantize(D("0.0001"))
                    await self.call("amend_order_keep_priority", {"symbol": SYMBOL, "orderId": str(target["orderId"]),
                                                                  "newQty": str(new_qty)})
                else:
                    await self.call("cancel_replace_order", {
                        "symbol": SYMBOL, "cancelReplaceMode": "ALLOW_FAILURE", "cancelOrderId": str(target["orderId"]),
                        "side": op[2], "type": "LIMIT", "timeInForce": "GTC", "price": str(op[3]), "quantity": str(op[4])})
        elif kind == "oco":
            await self.call("place_order_list_oco", _oco_params(op))
        elif kind == "cancel_list":
            lists = await self.call("get_open_order_lists", {}) or []
            if lists:
                await self.call("cancel_order_list", {"symbol": SYMBOL, "orderListId": str(lists[op[1] % len(lists)]["orderListId"])})
        elif kind == "tape":
            for price, qty, maker in op[1]:
                self.market.trade(D(price), D(qty) / 100, maker)
            await self.call("get_open_orders", {"symbol": SYMBOL})  # catches up
        else:
            await self.call("place_order", _order_params(op))

    def check(self) -> None:
        with self.desk.ledger.store.read() as db:
            balances = Ledger.balances(db, self.account.name)
            orders = Ledger.orders(db, self.account.name)
            trades = Ledger.trades(db, self.account.name, SYMBOL)
        for asset, (free, locked) in balances.items():
            assert free >= 0 and locked >= 0, f"{asset} went negative: free {free}, locked {locked}"
        held: dict[str, D] = defaultdict(D)
        for order in orders:
            if order.status in OPEN_STATUSES:
                held[order.locked_asset] += order.locked_left
            else:
                assert order.locked_left == 0, f"order {order.order_id} is {order.status} but holds {order.locked_left}"
        for asset, (_, locked) in balances.items():
            assert locked == held.get(asset, D(0)), f"{asset} locked {locked}, open orders hold {held.get(asset, D(0))}"
        per_order: dict[int, tuple[D, D]] = defaultdict(lambda: (D(0), D(0)))
        for t in trades:
            qty_sum, quote_sum = per_order[t["order_id"]]
            per_order[t["order_id"]] = (qty_sum + D(t["qty"]), quote_sum + D(t["quote_qty"]))
        for order in orders:  # an order's own figures are the sums of its trades
            assert (order.executed_qty, order.cum_quote) == per_order[order.order_id], order
            assert order.executed_qty <= order.orig_qty, order
            assert order.status != "FILLED" or order.executed_qty == order.orig_qty, order
        expected = defaultdict(D, dict(START))
        for t in trades:
            qty, quote, fee = D(t["qty"]), D(t["quote_qty"]), D(t["commission"])
            expected[BASE] += qty if t["is_buyer"] else -qty
            expected[QUOTE] += -quote if t["is_buyer"] else quote
            expected[t["commission_asset"]] -= fee
        for asset in set(expected) | set(balances):
            free, locked = balances.get(asset, (D(0), D(0)))
            assert free + locked == expected[asset], f"{asset}: holds {free + locked}, its trades say {expected[asset]}"


# A BUY stop triggered into a book far above its stop price costs more than it locked, and more
# than the account holds: the fill must be refused whole, never half-applied.
STOP_INTO_A_THIN_BOOK = [("stop", "STOP_LOSS", "BUY", 105, D(9)), ("book", 120, [100] * 5 + [900] * 5),
                         ("tape", [(106, 10, False)])]
# A SELL OCO whose LIMIT_MAKER leg fills first: the list's lock, held by the stop leg, passes to it.
OCO_MAKER_WINS = [("oco", "SELL", 105, 95, "STOP_LOSS", D(1)), ("tape", [(106, 200, False)])]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operations, min_size=1, max_size=25))
@example(STOP_INTO_A_THIN_BOOK)
@example(OCO_MAKER_WINS)
def test_balances_never_go_negative_and_locks_match_the_open_orders(ops):
    async def run() -> None:
        with tempfile.TemporaryDirectory(prefix="paper-prop-") as tmp:
            session = Session(Path(tmp))
            try:
                await session.call("get_account", {})  # the account opens with its starting balances
                for op in ops:
                    await session.step(op)
                    session.check()
            finally:
                session.desk.ledger.store.close()

    anyio.run(run)
