"""New paper orders and the catch-up that fills resting ones (the fill model is ``matching``'s).

A new order is checked like Binance checks it (the symbol's exchangeInfo filters, then the
balances), matched against a depth snapshot fetched for it, and written in one transaction that
re-checks the balances, so two processes can never spend the same balance. Resting orders fill in
``catch_up``, from the aggregate trades after the last checkpoint, applied exactly once (the
checkpoint is re-read inside the transaction that moves it).
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import anyio

from binance_spot_mcp.errors import ExchangeError, hint_for
from binance_spot_mcp.exchange.filters import (
    FilterRejected,
    check_order,
    needs_avg_price,
)
from binance_spot_mcp.paper import views
from binance_spot_mcp.paper.contingency import settle_lists
from binance_spot_mcp.paper.events import EventHub, account_position, list_event, order_events
from binance_spot_mcp.paper.ledger import InsufficientBalance, Ledger, OrderRow
from binance_spot_mcp.paper.market import DEEP_DEPTH, FIRST_DEPTH, MarketData
from binance_spot_mcp.paper.matching import (
    BUY,
    SELL,
    Fill,
    Level,
    Resting,
    filled,
    first_trigger,
    match_trades,
    stop_triggered,
    walk_book,
)
from binance_spot_mcp.paper.settings import PaperSettings

logger = logging.getLogger(__name__)
TAKING = ("MARKET", "LIMIT")
RESTING = ("LIMIT", "LIMIT_MAKER")
STOPS = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
SUPPORTED_TYPES = (*TAKING, "LIMIT_MAKER", *STOPS)
UNSUPPORTED_PARAMS = {
    "trailingDelta": "a trailing stop",
    "pegPriceType": "a pegged order",
    "pegOffsetValue": "a pegged order",
    "pegOffsetType": "a pegged order",
}


class _NeedBook(Exception):
    """A market stop triggers in this batch but no book was read for it (it was placed after the
    open orders were listed): the batch is rolled back and applied again with a depth snapshot."""


class PaperAccount(Protocol):
    """What the desk needs of an account: its name, market-data source and paper settings."""

    @property
    def name(self) -> str: ...

    @property
    def base_url(self) -> str: ...

    @property
    def paper(self) -> PaperSettings | None: ...


def settings_of(account: PaperAccount) -> PaperSettings:
    return account.paper or PaperSettings()


def _dec(p: Mapping[str, str], name: str) -> Decimal | None:
    if name not in p or p[name] == "":
        return None
    try:
        value = Decimal(p[name])
    except InvalidOperation:
        raise views.bad_param("place_order", f"Illegal characters found in parameter '{name}'.") from None
    return value


def lot_step(info: Mapping[str, Any], market: bool) -> Decimal:
    step = Decimal(0)
    for f in info.get("filters", []):
        if f.get("filterType") == "LOT_SIZE" or (market and f.get("filterType") == "MARKET_LOT_SIZE"):
            try:
                value = Decimal(str(f.get("stepSize", "0")))
            except InvalidOperation:
                continue
            step = max(step, value)
    return step


async def together(*factories: Callable[[], Awaitable[Any]] | None) -> list[Any]:
    """Run the given coroutine factories at once (None: skipped, result None); the first error
    raised, by position, is raised as itself once all have finished."""
    results: list[Any] = [None] * len(factories)
    errors: list[BaseException | None] = [None] * len(factories)
    if sum(f is not None for f in factories) <= 1:  # nothing to overlap: no task group to pay for
        for index, factory in enumerate(factories):
            if factory is not None:
                results[index] = await factory()
        return results

    async def run(index: int, factory: Callable[[], Awaitable[Any]]) -> None:
        try:
            results[index] = await factory()
        except Exception as exc:  # noqa: BLE001 - re-raised below, in order
            errors[index] = exc

    async with anyio.create_task_group() as group:
        for index, factory in enumerate(factories):
            if factory is not None:
                group.start_soon(run, index, factory)
    for error in errors:
        if error is not None:
            raise error
    return results


def new_client_id() -> str:
    return "paper" + secrets.token_hex(8)


class Placer:
    """Places paper orders and catches resting ones up with the market."""

    def __init__(self, ledger: Ledger, market: MarketData, clock_ms: Callable[[], int], hub: EventHub | None = None,
                 *, filters_prechecked: bool = False) -> None:
        self.ledger = ledger
        self.market = market
        self.clock_ms = clock_ms
        self.hub = hub or EventHub()
        # The server checks every order against the symbol's filters just before it reaches the desk
        # (local filter checks, on by default): the desk then does not fetch and check it all again.
        self.filters_prechecked = filters_prechecked

    async def publish(self, account: str, db_balances: dict[str, tuple[Decimal, Decimal]], orders: list[tuple[OrderRow, list, bool, bool]],
                now: int) -> None:
        """Tell the account's listeners what changed: executionReports, then the balances touched."""
        if not self.hub.listening(account):
            return
        events = []
        assets: set[str] = set()
        for order, fills, maker, announce in orders:
            events.extend(order_events(order, fills, now, maker=maker, announce=announce))
            assets |= {order.base_asset, order.quote_asset}
        list_ids = {o.order_list_id for o, *_ in orders if o.order_list_id >= 0}
        if list_ids:  # read off the event loop's back: a worker thread may wait for another process
            events.extend(await self.ledger.store.run(lambda: self._list_events(account, list_ids, now)))
        if assets:
            events.append(account_position(db_balances, assets, now))
        self.hub.emit(account, events)

    def _list_events(self, account: str, list_ids: set[int], now: int) -> list[dict[str, Any]]:
        """A listStatus event for each order list a change touched (EXEC_STARTED, or ALL_DONE once no leg is open)."""
        events = []
        with self.ledger.store.read() as db:
            for list_id in sorted(list_ids):
                row = db.execute("SELECT * FROM paper_lists WHERE account = ? AND list_id = ?", (account, list_id)).fetchone()
                if row is not None:
                    events.append(list_event(row, self.ledger.orders(db, account, list_id=list_id), now))
        return events

    # ------------------------------------------------------------------ checks before matching
    async def validate(self, tool: str, account: PaperAccount, p: Mapping[str, str]) -> dict[str, Any]:
        """The symbol's exchangeInfo entry, once the order passed what Binance checks first."""
        for name, what in UNSUPPORTED_PARAMS.items():
            if name in p:
                raise views.not_on_paper(what)
        if _dec(p, "icebergQty"):
            raise views.not_on_paper("an iceberg order")
        if p.get("type") not in SUPPORTED_TYPES:
            raise views.not_on_paper(f"order type {p.get('type')}")
        info = await self.market.symbol_info(account.base_url, p["symbol"])
        if info.get("status", "TRADING") != "TRADING":
            raise views.rejected((-1013, "Market is closed."), tool)
        if p.get("type") not in info.get("orderTypes", SUPPORTED_TYPES):
            raise views.rejected((-2010, views.TYPE_NOT_ENABLED.get(p["type"], "Unsupported order combination")), tool)
        if self.filters_prechecked:
            return info
        avg = await self.market.avg_price(account.base_url, p["symbol"]) if needs_avg_price(tool, p, info) else None
        try:
            check_order(tool, p, info, avg_price=avg)
        except FilterRejected as exc:
            raise ExchangeError(status=400, code=-1013, msg=f"Filter failure: {exc.filter_type}",
                                hint=hint_for(400, -1013, tool)) from None
        return info

    # ------------------------------------------------------------------ placing
    async def place(self, tool: str, account: PaperAccount, p: Mapping[str, str], *, list_id: int = -1) -> dict[str, Any]:
        side, otype = p["side"], p["type"]
        needs_book = otype in TAKING or otype == "LIMIT_MAKER"
        needs_tape = otype in STOPS or (otype in RESTING and (p.get("timeInForce") or "GTC") == "GTC")
        info = await self.validate(tool, account, p)  # exchangeInfo is cached: no round trip after the first
        await self.catch_up(account, only=p["symbol"])  # reads the market only while orders of the symbol rest
        # The market reads this order needs run side by side (each is a round trip; neither needs the other).
        snapshot, tape = await together(
            (lambda: self.market.depth(account.base_url, p["symbol"], FIRST_DEPTH)) if needs_book else None,
            (lambda: self.market.last_trade_id(account.base_url, p["symbol"])) if needs_tape else None,
        )
        qty, quote_qty = _dec(p, "quantity"), _dec(p, "quoteOrderQty")
        price, stop = _dec(p, "price") or Decimal(0), _dec(p, "stopPrice") or Decimal(0)
        tif = p.get("timeInForce") or ("GTC" if otype in ("LIMIT", "LIMIT_MAKER") or otype.endswith("_LIMIT") else None)
        fills: list[Fill] = []
        book_id, own_side = None, []
        opposite: list[Level] = []
        after_trade = 0
        if needs_book:
            book_id, bids, asks = snapshot
            opposite, own_side = (asks, bids) if side == BUY else (bids, asks)
            if otype == "LIMIT_MAKER":
                if opposite and (opposite[0].price <= price if side == BUY else opposite[0].price >= price):
                    raise views.rejected(views.WOULD_TAKE, tool)
            else:
                fills, opposite = await self._walk(account, p, side, opposite, qty, quote_qty,
                                                   price if otype == "LIMIT" else None, info, book_id)
                if otype == "MARKET" and quote_qty is not None and not fills:  # errors.md: nothing to fill it
                    raise views.rejected(views.NO_LIQUIDITY, tool)
                if otype == "LIMIT" and tif == "FOK" and qty is not None and filled(fills)[0] < qty:
                    fills = []
        if otype in STOPS:
            after_trade, last_price = tape
            last_price = last_price or await self.market.last_price(account.base_url, p["symbol"])
            if last_price is not None and stop_triggered(otype, side, stop, last_price):
                raise views.rejected(views.WOULD_TRIGGER, tool)
        done_qty, done_quote = filled(fills)
        rests = otype in RESTING and tif == "GTC" and qty is not None and done_qty < qty
        if rests:
            after_trade = tape[0]
        queue = sum((lvl.qty for lvl in own_side if lvl.price == price), Decimal(0)) if rests else Decimal(0)
        now = self.clock_ms()
        if otype == "MARKET" and qty is None:
            orig_qty = done_qty
            status = "FILLED" if done_qty > 0 and not self._short(fills, quote_qty, opposite) else "EXPIRED"
        else:
            orig_qty = qty or Decimal(0)
            if done_qty >= orig_qty and orig_qty > 0:
                status = "FILLED"
            elif rests or otype in STOPS:
                status = "PARTIALLY_FILLED" if done_qty > 0 else "NEW"
            else:
                status = "EXPIRED"
        base, quote = info["baseAsset"], info["quoteAsset"]
        order = OrderRow(
            account=account.name, order_id=0, symbol=p["symbol"], client_order_id=p.get("newClientOrderId") or new_client_id(),
            order_list_id=list_id, side=side, type=otype, time_in_force=tif, price=price, orig_qty=orig_qty,
            executed_qty=Decimal(0), cum_quote=Decimal(0), orig_quote_qty=quote_qty or Decimal(0), status=status,
            stop_price=stop, time_ms=now, update_ms=now, working_ms=now, is_working=otype not in STOPS,
            queue_ahead=queue, after_trade=after_trade, base_asset=base, quote_asset=quote,
            locked_asset="", locked_left=Decimal(0),
        )
        settings = settings_of(account)

        def write() -> tuple[OrderRow, list[tuple[Fill, Decimal, str, int]], dict[str, tuple[Decimal, Decimal]]]:
            with self.ledger.store.write() as db:
                self.ledger.ensure_account(db, account.name, settings.balances, now)
                if self.ledger.open_with_client_id(db, account.name, order.symbol, order.client_order_id):
                    raise views.rejected(views.DUPLICATE, tool)
                placed = replace(order, order_id=self.ledger.next_id(db, account.name, "order"))
                self._check_funds(db, placed, fills, qty, quote_qty, tool)
                applied = [self._apply_fill(db, placed, f, is_maker=False, rate=settings.taker_rate, now=now) for f in fills]
                if placed.is_open:
                    self._lock(db, placed)
                self.ledger.insert_order(db, placed)
                listened = self.hub.listening(account.name)  # balances only for an event someone reads
                return placed, applied, self.ledger.balances(db, account.name) if listened else {}

        try:
            placed, applied, balances = await self.ledger.store.run(write)
        except InsufficientBalance:
            # The catch-up above read only this symbol: another symbol's resting order may have paid in.
            if not await self.catch_up(account):
                raise views.rejected(views.INSUFFICIENT, tool) from None
            try:
                placed, applied, balances = await self.ledger.store.run(write)
            except InsufficientBalance:
                raise views.rejected(views.INSUFFICIENT, tool) from None
        await self.publish(account.name, balances, [(placed, applied, False, True)], now)
        resp_type = p.get("newOrderRespType") or ("FULL" if otype in TAKING else "ACK")
        return views.placed_view(placed, applied, resp_type, now)

    async def _walk(self, account: PaperAccount, p: Mapping[str, str], side: str, opposite: list[Level],
                    qty: Decimal | None, quote_qty: Decimal | None, limit: Decimal | None,
                    info: Mapping[str, Any], book_id: int | None) -> tuple[list[Fill], list[Level]]:
        step = lot_step(info, market=limit is None)
        fills = walk_book(side, opposite, quantity=qty, quote_quantity=quote_qty, limit_price=limit, step=step, book_id=book_id)
        if len(opposite) >= FIRST_DEPTH and len(fills) >= len(opposite):
            # The order needs more than the first snapshot holds: fetch a deeper one, never invent liquidity.
            book_id, bids, asks = await self.market.depth(account.base_url, p["symbol"], DEEP_DEPTH)
            opposite = asks if side == BUY else bids
            fills = walk_book(side, opposite, quantity=qty, quote_quantity=quote_qty, limit_price=limit, step=step, book_id=book_id)
        return fills, opposite

    @staticmethod
    def _short(fills: list[Fill], quote_qty: Decimal | None, levels: list[Level]) -> bool:
        """Did a quoteOrderQty walk run out of book (every level taken whole, quote left)? A walk
        that stopped because the rest buys less than a lot at the next price is complete."""
        if quote_qty is None or not fills:
            return True
        spent = filled(fills)[1]
        return spent < quote_qty and len(fills) == len(levels) and fills[-1].qty == levels[-1].qty

    def _check_funds(self, db: sqlite3.Connection, order: OrderRow, fills: list[Fill], qty: Decimal | None,
                     quote_qty: Decimal | None, tool: str) -> None:
        free = {a: f for a, (f, _) in self.ledger.balances(db, order.account).items()}
        base_free, quote_free = free.get(order.base_asset, Decimal(0)), free.get(order.quote_asset, Decimal(0))
        done_qty, done_quote = filled(fills)
        if order.side == SELL:
            if base_free < (qty if qty is not None else done_qty):
                raise InsufficientBalance(order.base_asset)
            return
        rest = order.orig_qty - done_qty if order.is_open else Decimal(0)
        reserve = rest * (order.price or order.stop_price)
        if quote_free < done_quote + reserve:
            raise InsufficientBalance(order.quote_asset)

    def _lock(self, db: sqlite3.Connection, order: OrderRow) -> None:
        """Lock what a resting or waiting order may spend (its remaining quantity, or its value)."""
        if order.side == SELL:
            asset, amount = order.base_asset, order.orig_qty - order.executed_qty
        else:
            asset, amount = order.quote_asset, (order.orig_qty - order.executed_qty) * (order.price or order.stop_price)
        self.ledger.move(db, order.account, asset, free=-amount, locked=amount)
        order.locked_asset, order.locked_left = asset, amount

    def release(self, db: sqlite3.Connection, order: OrderRow) -> None:
        """Give back what an order that is done (filled, canceled, expired) still holds locked."""
        if order.locked_left > 0:
            self.ledger.move(db, order.account, order.locked_asset, free=order.locked_left, locked=-order.locked_left)
            order.locked_left = Decimal(0)

    def _apply_fill(self, db: sqlite3.Connection, order: OrderRow, fill: Fill, *, is_maker: bool, rate: Decimal,
                    now: int) -> tuple[Fill, Decimal, str, int]:
        """Move the balances for one fill, record the trade, advance the order."""
        quote_amount = fill.price * fill.qty
        if order.side == BUY:
            paid_asset, paid, got_asset, got = order.quote_asset, quote_amount, order.base_asset, fill.qty
        else:
            paid_asset, paid, got_asset, got = order.base_asset, fill.qty, order.quote_asset, quote_amount
        fee = got * rate
        from_locked = min(paid, order.locked_left) if order.locked_asset == paid_asset else Decimal(0)
        if paid - from_locked:  # the one move that can fail (InsufficientBalance): first, before anything moved
            self.ledger.move(db, order.account, paid_asset, free=-(paid - from_locked))
        if from_locked:
            self.ledger.move(db, order.account, paid_asset, locked=-from_locked)
            order.locked_left -= from_locked
        self.ledger.move(db, order.account, got_asset, free=got - fee)
        trade_id = self.ledger.next_id(db, order.account, "trade")
        self.ledger.insert_trade(db, order.account, trade_id, order, price=fill.price, qty=fill.qty, commission=fee,
                                 commission_asset=got_asset, time_ms=now, is_maker=is_maker, receipt=fill.receipt)
        order.executed_qty += fill.qty
        order.cum_quote += quote_amount
        order.update_ms = now
        if order.type == "MARKET" and order.orig_quote_qty and order.orig_qty < order.executed_qty:
            order.orig_qty = order.executed_qty
        return fill, fee, got_asset, trade_id

    # ------------------------------------------------------------------ catching up
    async def catch_up(self, account: PaperAccount, only: str | None = None) -> int:
        """Fill resting and waiting orders from the market's trades since the last checkpoint.
        Returns the number of fills made."""
        store = self.ledger.store

        def open_orders() -> dict[str, tuple[list[OrderRow], int | None]]:
            with store.read() as db:
                symbols = [only] if only is not None else self.ledger.open_symbols(db, account.name)
                found = {s: self.ledger.orders(db, account.name, symbol=s, open_only=True) for s in symbols}
                return {s: (orders, self.ledger.checkpoint(db, account.name, s)) for s, orders in found.items() if orders}

        made = 0
        for symbol, (orders, checkpoint) in (await store.run(open_orders)).items():
            # no trade up to the oldest order's placement can fill any of them: never read those
            start = max(checkpoint or 0, min(o.after_trade for o in orders))
            trades = await self.market.trades_after(account.base_url, symbol, start)
            if not trades:
                continue
            book = None
            if any(o.type in STOPS and not o.is_working and first_trigger(o.type, o.side, o.stop_price, o.after_trade, trades)
                   for o in orders):
                book = await self.market.depth(account.base_url, symbol, FIRST_DEPTH)
            try:
                changed, balances = await store.run(lambda s=symbol, t=trades, b=book: self._apply_trades(account, s, t, b))
            except _NeedBook:
                book = await self.market.depth(account.base_url, symbol, FIRST_DEPTH)
                changed, balances = await store.run(lambda s=symbol, t=trades, b=book: self._apply_trades(account, s, t, b))
            made += sum(len(fills) for _, fills, _, _ in changed)
            await self.publish(account.name, balances, changed, self.clock_ms())
        return made

    def _apply_trades(self, account: PaperAccount, symbol: str, trades: list, book: tuple | None
                      ) -> tuple[list[tuple[OrderRow, list, bool, bool]], dict[str, tuple[Decimal, Decimal]]]:
        settings = settings_of(account)
        now = self.clock_ms()
        taken: dict[int, list] = {}
        made: dict[int, list] = {}
        with self.ledger.store.write() as db:
            checkpoint = self.ledger.checkpoint(db, account.name, symbol)
            fresh = [t for t in trades if checkpoint is None or t.id > checkpoint]
            if not fresh:
                return [], {}
            orders = {o.order_id: o for o in self.ledger.orders(db, account.name, symbol=symbol, open_only=True)}
            expired = [loser for _, loser in settle_lists(orders, fresh)]  # OCO: the first leg to execute wins
            for order in sorted(orders.values(), key=lambda o: o.order_id):
                if order.type not in STOPS or order.is_working:
                    continue
                trigger = first_trigger(order.type, order.side, order.stop_price, order.after_trade, fresh)
                if trigger is None:
                    continue
                order.is_working, order.working_ms, order.after_trade = True, now, trigger.id
                if order.type in ("STOP_LOSS", "TAKE_PROFIT") and book is None:
                    raise _NeedBook  # rolls this batch back: never mark a market stop working without executing it
                if order.type in ("STOP_LOSS", "TAKE_PROFIT") and book is not None:
                    levels = book[2] if order.side == BUY else book[1]
                    for fill in walk_book(order.side, levels, quantity=order.remaining, book_id=book[0]):
                        try:
                            taken.setdefault(order.order_id, []).append(
                                self._apply_fill(db, order, fill, is_maker=False, rate=settings.taker_rate, now=now))
                        except InsufficientBalance:
                            break
                    order.status = "FILLED" if order.remaining <= 0 else "EXPIRED"
                    self.release(db, order)
            resting = [Resting(o.order_id, o.side, o.price, o.remaining, o.queue_ahead, o.after_trade, o.order_id)
                       for o in orders.values() if o.is_open and o.is_working and o.type not in ("STOP_LOSS", "TAKE_PROFIT")]
            for key, fill in match_trades(resting, fresh):
                order = orders[key]
                try:
                    applied = self._apply_fill(db, order, fill, is_maker=True, rate=settings.maker_rate, now=now)
                except InsufficientBalance as exc:
                    # its lock should always pay for it: if the books disagree, this one fill is
                    # skipped (and said), never the whole account's catch-up wedged by it
                    logger.warning("paper account %s: order %s could not pay a fill in %s; skipped", account.name,
                                   order.order_id, exc.asset)
                    continue
                made.setdefault(key, []).append(applied)
                order.status = "FILLED" if order.remaining <= 0 else "PARTIALLY_FILLED"
                if order.status == "FILLED":
                    self.release(db, order)
            for r in resting:
                orders[r.key].queue_ahead = r.queue_ahead
            for order in orders.values():
                self.ledger.update_order(db, order)
            self.ledger.set_checkpoint(db, account.name, symbol, fresh[-1].id)
            balances = self.ledger.balances(db, account.name)
        changed = [(loser, [], False, False) for loser in expired]
        changed += [(orders[k], fills, False, False) for k, fills in taken.items()]
        changed += [(orders[k], fills, True, False) for k, fills in made.items()]
        return changed, balances
