"""State and request processing of the fake Binance Spot exchange.

The :class:`Exchange` is transport-agnostic: :meth:`Exchange.handle` takes the
raw bytes of a request (:class:`RawRequest`) and returns a :class:`Reply`.
``app.py`` adapts it to ASGI.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Optional

from .auth import (
    ApiKey,
    check_api_key_header,
    check_timing,
    load_public_key,
    parse_recv_window,
    parse_timestamp_ms,
    signature_payload,
    verify_signature,
)
from .endpoints import BY_ROUTE, KNOWN_PATHS, Endpoint
from .engine import (
    ZERO,
    Account,
    Book,
    Fill,
    Order,
    Trade,
    consume_locked,
    ensure_not_limit_maker_cross,
    lock_for,
    new_client_id,
    plan_fills,
    release,
    reserve,
)
from .errors import ApiError, bad_symbol, filter_failure, mandatory, rejected
from .orderlists import OrderList
from .params import RawRequest, merged_params, validate
from .symbols import EXCHANGE_FILTERS, SymbolSpec, default_symbols, fmt

log = logging.getLogger(__name__)

STOP_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
DEFAULT_BALANCES = {"USDT": "100000", "BTC": "1", "ETH": "10", "BNB": "100"}
_LEG_FIELDS = (
    "side", "type", "timeInForce", "quantity", "quoteOrderQty", "price", "stopPrice", "trailingDelta",
    "icebergQty", "newClientOrderId", "strategyId", "strategyType", "pegPriceType", "pegOffsetType",
    "pegOffsetValue", "selfTradePreventionMode",
)


@dataclass
class RequestRecord:
    """One logged request."""

    method: str
    path: str
    query: str
    body: str
    headers: dict[str, str]
    params: dict[str, str]
    status: int = 0
    response: Any = None


@dataclass
class Reply:
    """Response produced by :meth:`Exchange.handle`."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Ctx:
    """Per-request context handed to handlers."""

    endpoint: Endpoint
    params: dict[str, Any]
    account: Optional[Account]
    now: int


class Exchange:
    """In-memory fake of the Binance Spot matching engine and REST semantics."""

    def __init__(self, clock_offset_ms: int = 0) -> None:
        self.lock = threading.RLock()
        self.clock_offset_ms = clock_offset_ms
        self.symbols: dict[str, SymbolSpec] = default_symbols()
        self.books: dict[str, Book] = {}
        self.keys: dict[str, tuple[ApiKey, Account]] = {}
        self.accounts: list[Account] = []
        self.orders: dict[tuple[str, int], Order] = {}
        self.order_lists: dict[int, OrderList] = {}
        self.trades: dict[str, list[Trade]] = {s: [] for s in self.symbols}
        self.amendments: list[dict[str, Any]] = []
        self.requests: list[RequestRecord] = []
        self.last_price: dict[str, Decimal] = {s: spec.ref_price for s, spec in self.symbols.items()}
        self.reference_prices: dict[str, Optional[Decimal]] = {"BTCUSDT": Decimal("60000.00")}
        self._next_order_id: dict[str, int] = {s: 1 for s in self.symbols}
        self._next_trade_id: dict[str, int] = {s: 1 for s in self.symbols}
        self._next_list_id = 1
        self._next_execution_id = 1
        self._weight_minute = -1
        self._weight_used = 0
        self._order_times: dict[int, list[int]] = {}
        for symbol, spec in self.symbols.items():
            self.books[symbol] = Book(spec)
            self._seed_book(spec)
        self._handlers: dict[tuple[str, str], Callable[[Ctx], Any]] = self._build_handlers()

    # ------------------------------------------------------------------ public knobs / helpers
    def server_time_ms(self) -> int:
        """Server clock: real time plus ``clock_offset_ms``."""
        return int(time.time() * 1000) + self.clock_offset_ms

    def add_account(
        self,
        api_key: str,
        *,
        hmac_secret: str | None = None,
        public_key_pem: str | bytes | None = None,
        balances: dict[str, Any] | None = None,
        account: Account | None = None,
    ) -> Account:
        """Register an API key (HMAC secret or RSA/Ed25519 public PEM) for a (new) account."""
        if (hmac_secret is None) == (public_key_pem is None):
            raise ValueError("give exactly one of hmac_secret or public_key_pem")
        key = ApiKey(api_key, hmac_secret=hmac_secret,
                     public_key=load_public_key(public_key_pem) if public_key_pem is not None else None)
        with self.lock:
            if account is None:
                account = Account(account_id=len(self.accounts) + 1, update_time=self.server_time_ms())
                for asset, amount in (balances if balances is not None else DEFAULT_BALANCES).items():
                    account.bal(asset)[0] = Decimal(str(amount))
                self.accounts.append(account)
            self.keys[api_key] = (key, account)
        return account

    def account_for(self, api_key: str) -> Account:
        """The account behind an API key."""
        return self.keys[api_key][1]

    def balance(self, api_key: str, asset: str) -> tuple[Decimal, Decimal]:
        """(free, locked) of an asset for the account behind ``api_key``."""
        with self.lock:
            free, locked = self.account_for(api_key).bal(asset)
            return free, locked

    def requests_to(self, path: str, method: str | None = None) -> list[RequestRecord]:
        """Logged requests for a path (``/api/v3/...``)."""
        with self.lock:
            return [r for r in self.requests if r.path == path and (method is None or r.method == method)]

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self.lock:
            self.requests.clear()

    # ------------------------------------------------------------------ request pipeline
    def handle(self, req: RawRequest) -> Reply:
        """Process one raw request end to end (thread-safe)."""
        with self.lock:
            record = RequestRecord(req.method, req.path, req.query.decode("latin-1"),
                                   req.body.decode("latin-1"), dict(req.headers), {})
            self.requests.append(record)
            endpoint = BY_ROUTE.get((req.method, req.path))
            reply = self._dispatch(req, endpoint, record)
            record.status = reply.status
            record.response = reply.body
            reply.headers["X-MBX-USED-WEIGHT-1M"] = str(self._used_weight())
            return reply

    def _dispatch(self, req: RawRequest, endpoint: Endpoint | None, record: RequestRecord) -> Reply:
        if endpoint is None:
            self._add_weight(1)
            if req.path in KNOWN_PATHS:
                return Reply(405, {"code": -1000, "msg": "Method not allowed."})
            return Reply(404, {"code": -1000, "msg": "Not found."})
        try:
            raw = merged_params(req)
            record.params = raw
            self._add_weight(self._weight(endpoint, raw))
            account = self._authenticate(req, endpoint, raw) if endpoint.signed else None
            typed = validate(endpoint, raw)
            ctx = Ctx(endpoint, typed, account, self.server_time_ms())
            body = self._handlers[endpoint.key](ctx)
            reply = body if isinstance(body, Reply) else Reply(200, body)
            if endpoint.order_count and account is not None:
                self._count_orders(account, ctx.now, endpoint.order_count, reply)
            return reply
        except ApiError as err:
            log.debug("fake binance %s %s -> %s", req.method, req.path, err)
            return Reply(err.status, err.payload())

    def _authenticate(self, req: RawRequest, endpoint: Endpoint, raw: dict[str, str]) -> Account:
        api_key = check_api_key_header(req.headers.get("x-mbx-apikey"))
        entry = self.keys.get(api_key)
        if entry is None:
            raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
        key, account = entry
        recv_window = parse_recv_window(raw.get("recvWindow"))
        timestamp = parse_timestamp_ms(raw.get("timestamp"))
        payload, signature = signature_payload(req)
        if not signature:
            raise mandatory("signature")
        if not verify_signature(key, payload, signature):
            raise ApiError(-1022, "Signature for this request is not valid.")
        check_timing(timestamp, recv_window, Decimal(self.server_time_ms()))
        return account

    # ------------------------------------------------------------------ weights / order counts
    def _weight(self, endpoint: Endpoint, raw: dict[str, str]) -> int:
        path = endpoint.path.removeprefix("/api/v3/")
        if path == "depth":
            limit = int(raw.get("limit", "100") or 100) if raw.get("limit", "").isdigit() else 100
            return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250
        if path in ("ticker/24hr", "ticker/price", "ticker/bookTicker") and "symbol" not in raw:
            return 80 if path == "ticker/24hr" else 4
        if path == "openOrders" and endpoint.method == "GET" and "symbol" not in raw:
            return 80
        if path in ("order/test", "sor/order/test") and raw.get("computeCommissionRates") == "true":
            return 20
        if path == "myTrades" and "orderId" in raw:
            return 5
        return endpoint.weight

    def _add_weight(self, weight: int) -> None:
        minute = self.server_time_ms() // 60000
        if minute != self._weight_minute:
            self._weight_minute, self._weight_used = minute, 0
        self._weight_used += weight

    def _used_weight(self) -> int:
        return self._weight_used if self.server_time_ms() // 60000 == self._weight_minute else 0

    def _count_orders(self, account: Account, now: int, count: int, reply: Reply) -> None:
        if reply.status != 200:
            return
        times = self._order_times.setdefault(account.account_id, [])
        times.extend([now] * count)
        reply.headers["X-MBX-ORDER-COUNT-10S"] = str(sum(1 for t in times if now - t < 10_000))
        reply.headers["X-MBX-ORDER-COUNT-1D"] = str(sum(1 for t in times if now - t < 86_400_000))

    def order_counts(self, account: Account, now: int) -> tuple[int, int]:
        """(10s, 1d) unfilled order counts."""
        times = self._order_times.get(account.account_id, [])
        return (sum(1 for t in times if now - t < 10_000), sum(1 for t in times if now - t < 86_400_000))

    # ------------------------------------------------------------------ seeding
    def _seed_book(self, spec: SymbolSpec) -> None:
        book = self.books[spec.symbol]
        for level in range(1, 6):
            offset = (spec.ref_price * Decimal("0.0005") * level).quantize(spec.tick)
            qty = (Decimal(level) * spec.seed_qty).quantize(spec.step)
            for side, price in (("BUY", spec.ref_price - offset), ("SELL", spec.ref_price + offset)):
                book.add(Order(spec.symbol, 0, "seed", side, "LIMIT", price, qty, working_time=0))

    # ------------------------------------------------------------------ lookups
    def spec(self, symbol: str) -> SymbolSpec:
        """Symbol spec or -1121."""
        spec = self.symbols.get(symbol)
        if spec is None:
            raise bad_symbol()
        return spec

    def _find_order(self, account: Account, symbol: str, order_id: int | None, client_id: str | None,
                    code: int = -2013) -> Order:
        found: Order | None = None
        if order_id is not None:
            found = self.orders.get((symbol, order_id))
            if found is not None and client_id is not None and found.client_order_id != client_id:
                found = None
        elif client_id is not None:
            candidates = [o for o in self.orders.values()
                          if o.symbol == symbol and o.client_order_id == client_id and o.account is account]
            found = next((o for o in candidates if o.is_open), candidates[-1] if candidates else None)
        if found is None or found.account is not account:
            raise ApiError(code, "Order does not exist." if code == -2013 else "Unknown order sent.")
        return found

    # ------------------------------------------------------------------ order validation
    def _check_order(self, account: Account, spec: SymbolSpec, o: dict[str, Any]) -> None:
        otype, qty, price = o["type"], o.get("quantity"), o.get("price")
        pegged = "pegPriceType" in o

        def need(name: str) -> None:
            if o.get(name) is None:
                raise mandatory(name)

        if otype == "MARKET":
            if qty is None and o.get("quoteOrderQty") is None:
                raise ApiError(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
            if qty is not None and o.get("quoteOrderQty") is not None:
                raise ApiError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
            for extra in ("price", "timeInForce", "stopPrice"):
                if o.get(extra) is not None:
                    raise ApiError(-1106, f"Parameter '{extra}' sent when not required.")
        else:
            if o.get("quoteOrderQty") is not None:
                raise ApiError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
            need("quantity")
            if otype in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER") and not pegged:
                need("price")
            if otype in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
                need("timeInForce")
            elif o.get("timeInForce") is not None and otype in ("STOP_LOSS", "TAKE_PROFIT"):
                raise ApiError(-1106, "Parameter 'timeInForce' sent when not required.")
            if otype in STOP_TYPES and o.get("stopPrice") is None and o.get("trailingDelta") is None:
                raise ApiError(-1102, "Param 'stopPrice' or 'trailingDelta' must be sent, but both were empty/null!")
            if otype in ("LIMIT", "LIMIT_MAKER") and o.get("stopPrice") is not None:
                raise ApiError(-1106, "Parameter 'stopPrice' sent when not required.")
        strategy_type = o.get("strategyType")
        if strategy_type is not None and strategy_type < 1000000:
            raise ApiError(-1134, "`strategyType` was less than 1000000.")
        if pegged and otype in ("MARKET", "STOP_LOSS", "TAKE_PROFIT"):
            raise rejected("This order type may not use pegged price.")
        self._check_filters(account, spec, o)

    def _check_filters(self, account: Account, spec: SymbolSpec, o: dict[str, Any]) -> None:
        qty, price, stop = o.get("quantity"), o.get("price"), o.get("stopPrice")
        for p in (price, stop):
            if p is not None and (p < spec.tick or p > Decimal(1000000) or p % spec.tick != 0):
                raise filter_failure("PRICE_FILTER")
        if qty is not None:
            if qty < spec.min_qty or qty > spec.max_qty or qty % spec.step != 0:
                raise filter_failure("LOT_SIZE")
            if o["type"] == "MARKET" and qty > spec.market_max_qty:
                raise filter_failure("MARKET_LOT_SIZE")
        iceberg = o.get("icebergQty")
        if iceberg is not None and qty is not None:
            if iceberg >= qty:
                raise rejected("IcebergQty exceeds QTY.")
            if math.ceil(qty / iceberg) > 100:
                raise filter_failure("ICEBERG_PARTS")
            if o.get("timeInForce", "GTC") != "GTC":
                raise ApiError(-1013, "Unsupported order combination")
        avg = self.last_price[spec.symbol]
        if price is not None and o["type"] != "MARKET":
            up, down = Decimal(5), Decimal("0.2")
            if price > avg * up or price < avg * down:
                raise filter_failure("PERCENT_PRICE_BY_SIDE")
        notional: Decimal | None = None
        if o["type"] == "MARKET":
            notional = o.get("quoteOrderQty") or (qty * avg if qty is not None else None)
        elif qty is not None and (price or stop):
            notional = qty * (price or stop)  # type: ignore[operator]
        if notional is not None:
            if spec.legacy_min_notional and notional < spec.min_notional:
                raise filter_failure("MIN_NOTIONAL")
            if notional < spec.min_notional or (o["type"] != "MARKET" and notional > spec.max_notional):
                raise filter_failure("NOTIONAL")
        open_count = sum(1 for x in self.orders.values()
                         if x.account is account and x.symbol == spec.symbol and x.is_open)
        if open_count >= 200:
            raise filter_failure("MAX_NUM_ORDERS")

    def _check_duplicate(self, account: Account, symbol: str, client_id: str | None) -> None:
        if client_id is None:
            return
        if any(o.account is account and o.symbol == symbol and o.client_order_id == client_id and o.is_open
               for o in self.orders.values()):
            raise rejected("Duplicate order sent.")

    # ------------------------------------------------------------------ order execution
    def _new_order(self, account: Account, spec: SymbolSpec, o: dict[str, Any], now: int,
                   list_id: int = -1) -> Order:
        order_id = self._next_order_id[spec.symbol]
        self._next_order_id[spec.symbol] += 1
        order = Order(
            symbol=spec.symbol, order_id=order_id,
            client_order_id=o.get("newClientOrderId") or new_client_id(), side=o["side"], type=o["type"],
            price=o.get("price") or ZERO, orig_qty=o.get("quantity") or ZERO, account=account,
            time_in_force=o.get("timeInForce") or "GTC", stop_price=o.get("stopPrice"),
            iceberg_qty=o.get("icebergQty"), orig_quote_qty=o.get("quoteOrderQty") or ZERO,
            order_list_id=list_id, time=now, update_time=now,
            stp_mode=o.get("selfTradePreventionMode") or "EXPIRE_MAKER",
        )
        for name in ("strategyId", "strategyType", "trailingDelta", "pegPriceType", "pegOffsetType",
                     "pegOffsetValue"):
            if o.get(name) is not None:
                order.extra[name] = o[name]
        if "trailingDelta" in order.extra:
            order.extra["trailingTime"] = -1
        return order

    def place(self, account: Account, spec: SymbolSpec, o: dict[str, Any], now: int, *,
              list_id: int = -1, pending: bool = False, lock_stop: bool = True) -> Order:
        """Validate and execute one order; returns the stored order."""
        self._check_order(account, spec, o)
        self._check_duplicate(account, spec.symbol, o.get("newClientOrderId"))
        if pending:
            order = self._new_order(account, spec, o, now, list_id)
            order.status = "PENDING_NEW"
            self.orders[(spec.symbol, order.order_id)] = order
            return order
        self._resolve_peg(spec, o)
        book = self.books[spec.symbol]
        otype, side = o["type"], o["side"]
        if otype in STOP_TYPES:
            order = self._new_order(account, spec, o, now, list_id)
            if lock_stop:
                asset, amount = lock_for(order, spec, order.orig_qty)
                reserve(account, asset, amount)
                order.locked_asset, order.locked_amount = asset, amount
            self.orders[(spec.symbol, order.order_id)] = order
            return order
        if otype == "LIMIT_MAKER":
            ensure_not_limit_maker_cross(book, side, o["price"])
        limit = None if otype == "MARKET" else o["price"]
        plan = [] if otype == "LIMIT_MAKER" else plan_fills(
            book, side, limit, o.get("quantity"), o.get("quoteOrderQty"), spec.step)
        filled = sum((q for _, q in plan), ZERO)
        cost = sum((q * m.price for m, q in plan), ZERO)
        if otype == "MARKET" and o.get("quoteOrderQty") is not None and not plan:
            raise rejected("Order book liquidity is less than symbol minimum quantity.")
        tif = o.get("timeInForce") or "GTC"
        if otype == "LIMIT" and tif == "FOK" and filled < o["quantity"]:
            plan, filled, cost = [], ZERO, ZERO
        qty_total = o.get("quantity") if o.get("quantity") is not None else filled
        rest = qty_total - filled if (otype in ("LIMIT", "LIMIT_MAKER") and tif == "GTC") else ZERO
        if side == "BUY":
            reserve_asset, needed = spec.quote, cost + (o.get("price") or ZERO) * rest
        else:
            reserve_asset, needed = spec.base, filled + rest
        if account.free(reserve_asset) < needed:
            raise rejected("Account has insufficient balance for requested action.")
        order = self._new_order(account, spec, o, now, list_id)
        if otype == "MARKET" and o.get("quoteOrderQty") is not None:
            order.orig_qty = filled
        order.working_time = now
        self.orders[(spec.symbol, order.order_id)] = order
        for maker, qty in plan:
            self._execute(book, spec, order, maker, qty, now)
        if rest > 0:
            asset, amount = lock_for(order, spec, rest)
            reserve(account, asset, amount)
            order.locked_asset, order.locked_amount = asset, amount
            book.add(order)
            order.status = "PARTIALLY_FILLED" if order.executed_qty > 0 else "NEW"
        elif order.executed_qty >= order.orig_qty and order.orig_qty > 0:
            order.status = "FILLED"
        else:
            order.status = "EXPIRED"
            order.extra["expiryReason"] = ("UNFILLED_FOK_ORDER_EXPIRED" if tif == "FOK" and otype == "LIMIT"
                                           else "UNFILLED_IOC_QUANTITY_EXPIRED" if otype == "LIMIT"
                                           else "INSUFFICIENT_LIQUIDITY")
        self._after_execution(order, now)
        return order

    def _resolve_peg(self, spec: SymbolSpec, o: dict[str, Any]) -> None:
        peg = o.get("pegPriceType")
        if peg is None or o.get("price") is not None:
            return
        book = self.books[spec.symbol]
        same = book.best(o["side"])
        opposite = book.best("SELL" if o["side"] == "BUY" else "BUY")
        ref = same if peg == "PRIMARY_PEG" else opposite
        if ref is None:
            raise rejected("Order book liquidity is too low for this pegged order.")
        o["price"] = ref.price

    def _execute(self, book: Book, spec: SymbolSpec, taker: Order, maker: Order, qty: Decimal, now: int) -> None:
        price = maker.price
        quote = qty * price
        trade_id = self._next_trade_id[spec.symbol]
        self._next_trade_id[spec.symbol] += 1
        taker_comm = self._settle(taker, spec, qty, quote, taker=True)
        maker_comm = self._settle(maker, spec, qty, quote, taker=False)
        taker.fills.append(Fill(price, qty, taker_comm, spec.base if taker.side == "BUY" else spec.quote, trade_id))
        for o in (taker, maker):
            o.executed_qty += qty
            o.cum_quote += quote
            o.update_time = now
        maker.status = "FILLED" if maker.remaining <= 0 else "PARTIALLY_FILLED"
        if maker.remaining <= 0:
            book.remove(maker)
            release(maker)
        buy, sell = (taker, maker) if taker.side == "BUY" else (maker, taker)
        self.trades[spec.symbol].append(Trade(
            trade_id, spec.symbol, price, qty, now, buyer_is_maker=(maker.side == "BUY"), buy_order=buy,
            sell_order=sell, buy_commission=taker_comm if buy is taker else maker_comm,
            sell_commission=taker_comm if sell is taker else maker_comm))
        self.last_price[spec.symbol] = price
        if maker.account is not None:
            self._after_execution(maker, now)

    def _settle(self, order: Order, spec: SymbolSpec, qty: Decimal, quote: Decimal, *, taker: bool) -> Decimal:
        account = order.account
        if account is None:
            return ZERO
        rate = account.taker_rate if taker else account.maker_rate
        if order.side == "BUY":
            if taker:
                account.bal(spec.quote)[0] -= quote
            else:
                consume_locked(order, quote)
            commission = (qty * rate).quantize(Decimal("0.00000001"))
            account.bal(spec.base)[0] += qty - commission
        else:
            if taker:
                account.bal(spec.base)[0] -= qty
            else:
                consume_locked(order, qty)
            commission = (quote * rate).quantize(Decimal("0.00000001"))
            account.bal(spec.quote)[0] += quote - commission
        account.update_time = self.server_time_ms()
        return commission

    def cancel(self, order: Order, now: int, status: str = "CANCELED") -> None:
        """Cancel/expire an open order and free its locked funds."""
        if not order.is_open:
            return
        if order.on_book:
            self.books[order.symbol].remove(order)
        release(order)
        order.status = status
        order.update_time = now

    def _after_execution(self, order: Order, now: int) -> None:
        """Order-list contingencies: OCO cancels the sibling, OTO/OPO activates pending legs."""
        olist = self.order_lists.get(order.order_list_id) if order.order_list_id != -1 else None
        if olist is None or order.executed_qty <= 0 or order not in olist.orders:
            return
        working = olist.orders[0]
        if olist.kind == "OCO":
            for sibling in olist.orders:
                if sibling is not order and sibling.is_open:
                    self.cancel(sibling, now, status="EXPIRED")
        elif order is working:
            if order.status == "FILLED":
                self._activate_pending(olist, now)
        elif olist.kind in ("OTOCO", "OPOCO"):
            for sibling in olist.orders[1:]:
                if sibling is not order and sibling.is_open:
                    self.cancel(sibling, now, status="EXPIRED")

    def _activate_pending(self, olist: OrderList, now: int) -> None:
        spec = self.symbols[olist.symbol]
        for leg in olist.orders[1:]:
            if leg.status != "PENDING_NEW":
                continue
            leg.working_time = now
            leg.update_time = now
            if leg.type in STOP_TYPES:
                leg.status = "NEW"
                continue
            if leg.type == "LIMIT_MAKER" or leg.type == "LIMIT":
                try:
                    if leg.type == "LIMIT_MAKER":
                        ensure_not_limit_maker_cross(self.books[olist.symbol], leg.side, leg.price)
                    asset, amount = lock_for(leg, spec, leg.remaining)
                    reserve(olist.account, asset, amount)
                except ApiError:
                    leg.status = "EXPIRED"
                    continue
                leg.locked_asset, leg.locked_amount = asset, amount
                leg.status = "NEW"
                self.books[olist.symbol].add(leg)
            else:
                leg.status = "NEW"

    # ------------------------------------------------------------------ handler registry
    def _build_handlers(self) -> dict[tuple[str, str], Callable[[Ctx], Any]]:
        from .handlers import build_handlers

        return build_handlers(self)

    # ------------------------------------------------------------------ shared renderers
    def exchange_filters(self) -> list[dict[str, Any]]:
        """Exchange-level filters."""
        return list(EXCHANGE_FILTERS)

    def commission_rates(self, account: Account) -> dict[str, str]:
        """Account commission rates shape."""
        return {"maker": fmt(account.maker_rate), "taker": fmt(account.taker_rate),
                "buyer": fmt(ZERO), "seller": fmt(ZERO)}

    def leg(self, params: dict[str, Any], prefix: str = "", **overrides: Any) -> dict[str, Any]:
        """Extract a normalized order dict from (possibly prefixed) list parameters."""
        out: dict[str, Any] = {}
        for name in _LEG_FIELDS:
            src = prefix + name[0].upper() + name[1:] if prefix else name
            if name == "newClientOrderId" and prefix:
                src = prefix + "ClientOrderId"
            if src in params:
                out[name] = params[src]
        if "selfTradePreventionMode" in params:
            out["selfTradePreventionMode"] = params["selfTradePreventionMode"]
        out.update({k: v for k, v in overrides.items() if v is not None})
        return out

    def new_list_id(self) -> int:
        """Allocate an orderListId."""
        list_id = self._next_list_id
        self._next_list_id += 1
        return list_id

    def new_execution_id(self) -> int:
        """Allocate an amendment executionId."""
        execution_id = self._next_execution_id
        self._next_execution_id += 1
        return execution_id


__all__ = ["Ctx", "Exchange", "Reply", "RequestRecord"]
