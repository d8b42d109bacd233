"""State and request processing of the fake Binance Spot exchange.

The :class:`Exchange` is transport-agnostic: :meth:`Exchange.handle` takes the
raw bytes of a request (:class:`RawRequest`) and returns a :class:`Reply`.
``app.py`` adapts it to ASGI.

This module holds the shared state (symbols, books, accounts, orders, order lists,
trades, the request log), the server clock, the request pipeline (authentication,
validation, dispatch to ``handlers.py`` and ``market.py``) and the knobs tests turn.
The rest of the exchange is mixed in from one module per concern:

* ``ratelimits.py``: REQUEST_WEIGHT per IP (429 and 418) and the ORDERS counts;
* ``faults.py``: injected faults and the count of requests in flight;
* ``validation.py``: the checks an order must pass before it is placed;
* ``execution.py``: placing, filling and cancelling orders, and order-list contingencies.

``records.py`` holds the request log entry, the per-request context and the reply.
"""

from __future__ import annotations

import logging
import threading
import time
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
from .engine import ZERO, Account, Book, Order, Trade
from .errors import ApiError, bad_symbol, mandatory
from .execution import OrderExecution
from .faults import Fault, FaultInjection, fault_reply
from .orderlists import OrderList
from .params import RawRequest, merged_params, validate
from .ratelimits import RateLimits
from .records import Ctx, Reply, RequestRecord
from .symbols import EXCHANGE_FILTERS, SymbolSpec, default_symbols, fmt
from .validation import OrderValidation

log = logging.getLogger(__name__)

DEFAULT_BALANCES = {"USDT": "100000", "BTC": "1", "ETH": "10", "BNB": "100"}
_LEG_FIELDS = (
    "side", "type", "timeInForce", "quantity", "quoteOrderQty", "price", "stopPrice", "trailingDelta",
    "icebergQty", "newClientOrderId", "strategyId", "strategyType", "pegPriceType", "pegOffsetType",
    "pegOffsetValue", "selfTradePreventionMode",
)


class Exchange(RateLimits, FaultInjection, OrderValidation, OrderExecution):
    """In-memory fake of the Binance Spot matching engine and REST semantics."""

    def __init__(self, clock_offset_ms: int = 0) -> None:
        super().__init__()
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
        self._time_shift_ms = 0
        self.avg_prices: dict[str, Decimal] = {}
        for symbol, spec in self.symbols.items():
            self.books[symbol] = Book(spec)
            self._seed_book(spec)
        self._handlers: dict[tuple[str, str], Callable[[Ctx], Any]] = self._build_handlers()
        # Called (under the lock) after every request: the WebSocket side derives its events here.
        self.listeners: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ public knobs / helpers
    def server_time_ms(self) -> int:
        """Server clock: real time plus ``clock_offset_ms`` plus everything given to :meth:`advance_time_ms`."""
        return int(time.time() * 1000) + self.clock_offset_ms + self._time_shift_ms

    def advance_time_ms(self, ms: int) -> None:
        """Move the server clock forward by ``ms`` (rate-limit windows, bans and serverTime all follow).

        Signed requests must then carry timestamps from :meth:`server_time_ms` (or a client that syncs
        with ``GET /api/v3/time``), otherwise they fail timing security with -1021 like a skewed client.
        """
        with self.lock:
            self._time_shift_ms += int(ms)

    # ------------------------------------------------------------------ order / price knobs
    def orders_placed(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """Every order ever accepted from an account (oldest first), to assert "no duplicate order"."""
        with self.lock:
            return [{"orderId": o.order_id, "clientOrderId": o.client_order_id, "symbol": o.symbol,
                     "status": o.status, "side": o.side, "type": o.type, "orderListId": o.order_list_id,
                     "price": fmt(o.price), "origQty": fmt(o.orig_qty), "executedQty": fmt(o.executed_qty),
                     "time": o.time}
                    for o in self.orders.values()
                    if o.account is not None and (symbol is None or o.symbol == symbol)]

    def set_avg_price(self, symbol: str, price: Any) -> None:
        """Pin the average price (``GET /avgPrice``, and filters when the symbol has no reference price)."""
        with self.lock:
            self.spec(symbol)
            if price is None:
                self.avg_prices.pop(symbol, None)
            else:
                self.avg_prices[symbol] = Decimal(str(price))

    def avg_price(self, symbol: str) -> Decimal:
        """Average price: the pinned one, else the last trade price (the fake keeps no VWAP history)."""
        return self.avg_prices.get(symbol, self.last_price[symbol])

    def filter_price(self, symbol: str) -> Decimal:
        """Price used by PERCENT_PRICE* and MARKET notional: non-null reference price, else average price."""
        ref = self.reference_prices.get(symbol)
        return ref if ref is not None else self.avg_price(symbol)

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
            for listener in self.listeners:
                listener()  # a new account's balances are the baseline for its balance events
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
    def handle(self, req: RawRequest, fault: Fault | None = None) -> Reply:
        """Process one raw request end to end (thread-safe).

        Order: IP ban (418) / weight limit (429) gate, then an ``error_before`` fault, then execution,
        then ``error_after`` / ``drop_after`` / ``delay_after`` (the last two are carried out by the app).
        """
        with self.lock:
            record = RequestRecord(req.method, req.path, req.query.decode("latin-1"),
                                   req.body.decode("latin-1"), dict(req.headers), {})
            self.requests.append(record)
            endpoint = BY_ROUTE.get((req.method, req.path))
            now = self.server_time_ms()
            reply = self._gate(req.client, self._request_weight(req, endpoint), now)
            if reply is not None:
                if fault is not None and fault.kind != "delay":
                    self._restore_fault(fault)
            elif fault is not None and fault.kind == "error_before":
                reply = fault_reply(self, fault, now, after=False)
            else:
                reply = self._dispatch(req, endpoint, record)
                if fault is not None and fault.kind == "error_after":
                    reply = fault_reply(self, fault, now, after=True)
                elif fault is not None and fault.kind == "drop_after":
                    reply.drop = True
                elif fault is not None and fault.kind == "delay_after":
                    reply.delay_s = fault.delay_s
            if reply.status == 429:
                self.rate_limit_hits += 1
            elif reply.status == 418:
                self.ban_hits += 1
            record.status = 0 if reply.drop else reply.status
            record.response = None if reply.drop else reply.body
            reply.headers["X-MBX-USED-WEIGHT-1M"] = str(self.used_weight(req.client))
            for listener in self.listeners:
                listener()
            return reply

    def _dispatch(self, req: RawRequest, endpoint: Endpoint | None, record: RequestRecord) -> Reply:
        if endpoint is None:
            if req.path in KNOWN_PATHS:
                return Reply(405, {"code": -1000, "msg": "Method not allowed."})
            return Reply(404, {"code": -1000, "msg": "Not found."})
        try:
            raw = merged_params(req)
            record.params = raw
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

    def list_symbol(self, spec: SymbolSpec, *, seed_book: bool = True) -> None:
        """List one more symbol (its book seeded around ``ref_price`` unless ``seed_book`` is False)."""
        with self.lock:
            self.symbols[spec.symbol] = spec
            self.books[spec.symbol] = Book(spec)
            self.trades[spec.symbol] = []
            self.last_price[spec.symbol] = spec.ref_price
            self._next_order_id[spec.symbol] = 1
            self._next_trade_id[spec.symbol] = 1
            if seed_book:
                self._seed_book(spec)

    def new_execution_id(self) -> int:
        """Allocate an amendment executionId."""
        execution_id = self._next_execution_id
        self._next_execution_id += 1
        return execution_id


__all__ = ["Exchange"]
