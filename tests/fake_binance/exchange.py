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
from .errors import ApiError, bad_symbol, mandatory, rejected
from .faults import FAULT_KINDS, Fault, fault_reply, normalize_path
from .filters import ALGO_TYPES, OpenCounts, check_order_filters
from .orderlists import OrderList
from .params import RawRequest, merged_params, parse_symbols, validate
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
    drop: bool = False  # transport: close the connection instead of replying (drop_after fault)
    delay_s: float = 0.0  # transport: wait this long before replying (delay_after fault)


@dataclass
class _IpLimits:
    """REQUEST_WEIGHT bookkeeping for one client IP."""

    minute: int = -1
    used: int = 0
    throttled_until: int = 0  # end of the window announced by the last 429 (server ms)
    banned_until: int = 0  # end of the 418 ban (server ms)


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
        # Rate limits (REQUEST_WEIGHT per IP per clock minute, like the real exchange).
        self.weight_limit_per_minute: int = 6000
        self.ban_seconds: int = 120
        self.rate_limit_hits = 0  # number of HTTP 429 replies sent
        self.ban_hits = 0  # number of HTTP 418 replies sent
        self._limits: dict[str, _IpLimits] = {}
        self._time_shift_ms = 0
        # Fault injection and in-flight tracking.
        self._faults: list[Fault] = []
        self._idle = threading.Condition()
        self._in_flight = 0
        self.avg_prices: dict[str, Decimal] = {}
        self._order_times: dict[int, list[int]] = {}
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

    # ------------------------------------------------------------------ rate limit knobs
    def used_weight(self, ip: str = "127.0.0.1") -> int:
        """REQUEST_WEIGHT used by ``ip`` in the current server-clock minute."""
        with self.lock:
            state = self._limits.get(ip)
            if state is None or state.minute != self.server_time_ms() // 60_000:
                return 0
            return state.used

    def banned_until_ms(self, ip: str = "127.0.0.1") -> int:
        """Server time (ms) at which the 418 ban of ``ip`` ends (0 or past = not banned)."""
        with self.lock:
            state = self._limits.get(ip)
            return state.banned_until if state else 0

    def reset_rate_limits(self) -> None:
        """Forget used weight, 429 windows and bans (the hit counters are kept)."""
        with self.lock:
            self._limits.clear()

    # ------------------------------------------------------------------ fault injection
    def inject(self, kind: str, *, path: str, method: str | None = None, times: int = 1, status: int = 503,
               code: int | None = None, msg: str | None = None, delay_s: float = 0.0,
               retry_after: int | None = None) -> Fault:
        """Arm ``times`` one-shot faults for requests to ``path`` (and ``method`` if given).

        Kinds: ``error_before`` (reply ``status`` without executing), ``error_after`` (execute, then reply
        ``status``, default -1007), ``drop_after`` (execute, then close the TCP connection without a reply),
        ``delay`` (sleep ``delay_s`` server-side, then handle normally), ``delay_after`` (execute at once,
        then wait ``delay_s`` before replying). Requests refused by the rate limiter (429/418) do not
        consume a shot.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if times < 1:
            raise ValueError("times must be >= 1")
        fault = Fault(kind, normalize_path(path), method.upper() if method else None, times, status, code, msg,
                      float(delay_s), retry_after)
        with self.lock:
            self._faults.append(fault)
        return fault

    def faults_pending(self) -> int:
        """How many injected shots have not fired yet."""
        with self.lock:
            return sum(f.remaining for f in self._faults)

    def clear_faults(self) -> None:
        """Disarm every injected fault."""
        with self.lock:
            self._faults.clear()

    def take_fault(self, method: str, path: str) -> Fault | None:
        """Consume one shot of the first fault matching this request (used by the ASGI app)."""
        with self.lock:
            for fault in self._faults:
                if fault.path == path and (fault.method is None or fault.method == method.upper()):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
            return None

    def _restore_fault(self, fault: Fault) -> None:
        fault.remaining += 1
        if fault not in self._faults:
            self._faults.insert(0, fault)

    def request_started(self) -> None:
        """ASGI app bookkeeping: one more request in flight."""
        with self._idle:
            self._in_flight += 1

    def request_finished(self) -> None:
        """ASGI app bookkeeping: one request done (replied, dropped or abandoned by its client)."""
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until no request is being processed (e.g. a delayed one whose client timed out)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

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

    # ------------------------------------------------------------------ REQUEST_WEIGHT limiter
    def _gate(self, ip: str, weight: int, now: int) -> Reply | None:
        """Count ``weight`` for ``ip``; return a 418/429 reply when the request must not run."""
        state = self._limits.setdefault(ip, _IpLimits())
        minute = now // 60_000
        if state.minute != minute:
            state.minute, state.used = minute, 0
        state.used += weight
        if now < state.banned_until:
            return self._banned(state.banned_until, now)
        if now < state.throttled_until:  # kept sending while told to back off: auto-ban
            state.throttled_until = 0
            state.banned_until = now + self.ban_seconds * 1000
            return self._banned(state.banned_until, now)
        if state.used > self.weight_limit_per_minute:
            state.throttled_until = (minute + 1) * 60_000
            return self.too_much_weight(now)
        return None

    def too_much_weight(self, now: int, retry_after: int | None = None) -> Reply:
        """HTTP 429 / -1003 with ``Retry-After`` = seconds until the current minute window ends."""
        if retry_after is None:
            retry_after = max(1, math.ceil(((now // 60_000 + 1) * 60_000 - now) / 1000))
        msg = (f"Too much request weight used; current limit is {self.weight_limit_per_minute} request weight "
               "per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.")
        return Reply(429, {"code": -1003, "msg": msg}, {"Retry-After": str(retry_after)})

    def _banned(self, until: int, now: int, retry_after: int | None = None) -> Reply:
        """HTTP 418 / -1003 with ``Retry-After`` = seconds until the ban ends."""
        if retry_after is None:
            retry_after = max(1, math.ceil((until - now) / 1000))
        msg = (f"Way too much request weight used; IP banned until {until}. "
               "Please use WebSocket Streams for live updates to avoid bans.")
        return Reply(418, {"code": -1003, "msg": msg}, {"Retry-After": str(retry_after)})

    def _request_weight(self, req: RawRequest, endpoint: Endpoint | None) -> int:
        if endpoint is None:
            return 1
        try:
            raw = merged_params(req)
        except ApiError:
            return endpoint.weight
        return self._weight(endpoint, raw)

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

    # ------------------------------------------------------------------ weights / order counts
    def _weight(self, endpoint: Endpoint, raw: dict[str, str]) -> int:
        """Request weight as documented in rest-api.md, including the argument-dependent tables."""
        path = endpoint.path.removeprefix("/api/v3/")
        method = endpoint.method

        def count_symbols() -> int | None:
            try:
                return len(parse_symbols("symbols", raw["symbols"])) if raw.get("symbols") else None
            except ApiError:
                return None

        if path == "depth":  # 1-100: 5, 101-500: 25, 501-1000: 50, 1001-5000: 250
            value = raw.get("limit", "")
            limit = int(value) if value.isdigit() else 100
            return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250
        if path == "ticker/24hr":  # symbol: 2; symbols 1-20: 2, 21-100: 40, 101+: 80; omitted: 80
            if raw.get("symbol"):
                return 2
            n = count_symbols()
            if n is None:
                return 80
            return 2 if n <= 20 else 40 if n <= 100 else 80
        if path in ("ticker/price", "ticker/bookTicker"):  # symbol: 2; omitted or symbols: 4
            return 2 if raw.get("symbol") else 4
        if path in ("ticker/tradingDay", "ticker"):  # 4 per symbol, capped at 200 above 50 symbols
            if raw.get("symbol"):
                return 4
            n = count_symbols()
            return min(4 * n, 200) if n else endpoint.weight
        if path == "executionRules":  # symbol: 2; symbols: 2 each capped at 40; symbolStatus/none: 40
            if raw.get("symbol"):
                return 2
            n = count_symbols()
            return min(2 * n, 40) if n else 40
        if path == "openOrders" and method == "GET":  # 6 for one symbol, 80 without
            return 6 if raw.get("symbol") else 80
        if path in ("order/test", "sor/order/test"):  # 1, or 20 with computeCommissionRates
            return 20 if raw.get("computeCommissionRates", "").lower() == "true" else 1
        if path == "myTrades":  # 20, or 5 with orderId
            return 5 if raw.get("orderId") else 20
        if path == "myPreventedMatches":  # invalid symbol: 2; by preventedMatchId: 2; by orderId: 20
            if raw.get("symbol") not in self.symbols or raw.get("preventedMatchId"):
                return 2
            return 20
        return endpoint.weight

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
        otype, qty, _price = o["type"], o.get("quantity"), o.get("price")
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
        """Apply the symbol's served filters (filters.md formulas, see ``filters.py``)."""
        counts = OpenCounts()
        for x in self.orders.values():
            if x.account is account and x.is_open:
                counts.exchange_orders += 1
                if x.symbol == spec.symbol:
                    counts.symbol_orders += 1
                    counts.symbol_algo += x.type in ALGO_TYPES
        check_order_filters(spec.filters(), self.exchange_filters(), o, self.filter_price(spec.symbol), counts)
        iceberg, qty = o.get("icebergQty"), o.get("quantity")
        if iceberg is not None and qty is not None:
            if iceberg >= qty:
                raise rejected("IcebergQty exceeds QTY.")
            if o.get("timeInForce", "GTC") != "GTC":
                raise ApiError(-1013, "Unsupported order combination")

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
