"""The fake's WebSocket API (``/ws-api/v3``, web-socket-api.md), mixed into :class:`~.ws_server.FakeStreams`.

Requests are JSON objects ``{"id", "method", "params"}``; replies carry ``id``, ``status``, ``result``
or ``error`` and, unless ``returnRateLimits`` is false (per request, or for the connection in its URL),
``rateLimits``. A method name may carry the ``v3/`` prefix. ``timeUnit=MICROSECOND`` in the URL turns
the time fields of results and events into microseconds.

Methods:

* ``ping``, ``time`` and the market data methods (``depth``, ``trades.recent``, ``klines``,
  ``ticker.*``, ``avgPrice``, ``exchangeInfo``...);
* ``session.logon`` (Ed25519 keys only, as documented), ``session.status``, ``session.logout``;
* the trading and account methods (``order.place``/``test``/``status``/``cancel``/``cancelReplace``,
  ``openOrders.*``, ``orderList.*``, ``allOrders``, ``myTrades``, ``account.status``/``commission``/
  ``rateLimits.orders``), signed per request (``apiKey``, ``timestamp``, ``signature`` over the other
  parameters sorted by name) or by the session's logon; each answers what the REST endpoint it
  mirrors answers (the same handlers) and moves the same matching engine;
* ``userDataStream.subscribe`` (a logged-on session), ``userDataStream.subscribe.signature``,
  ``userDataStream.unsubscribe``, ``session.subscriptions``.

Rules where the docs are silent and real clients rely on Binance's observed behaviour: a request
``id`` must be an integer, ``null`` or a string of at most 36 characters (the market streams'
documented rule); any other id gets ``status`` 400, ``-1100`` naming the legal range and ``"id": null``.
The docs give no code for going over ``max_user_subscriptions`` active at once; -2042 is used there too.
``session.logon`` with an HMAC or RSA key (the docs: "only Ed25519 keys are supported") is refused
with -1002 UNAUTHORIZED, status 401; the docs name no code for it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable

from .auth import check_timing, parse_recv_window, parse_timestamp_ms, verify_signature
from .endpoints import BY_ROUTE
from .engine import Account
from .errors import ApiError
from .params import validate
from .records import Ctx, Reply

if TYPE_CHECKING:  # pragma: no cover
    from .ws_server import _Conn

# WebSocket API method -> the REST endpoint whose handler answers it
REST_METHODS: dict[str, tuple[str, str]] = {
    "exchangeInfo": ("GET", "/api/v3/exchangeInfo"),
    "depth": ("GET", "/api/v3/depth"),
    "trades.recent": ("GET", "/api/v3/trades"),
    "trades.historical": ("GET", "/api/v3/historicalTrades"),
    "trades.aggregate": ("GET", "/api/v3/aggTrades"),
    "klines": ("GET", "/api/v3/klines"),
    "uiKlines": ("GET", "/api/v3/uiKlines"),
    "avgPrice": ("GET", "/api/v3/avgPrice"),
    "ticker.24hr": ("GET", "/api/v3/ticker/24hr"),
    "ticker.tradingDay": ("GET", "/api/v3/ticker/tradingDay"),
    "ticker": ("GET", "/api/v3/ticker"),
    "ticker.price": ("GET", "/api/v3/ticker/price"),
    "ticker.book": ("GET", "/api/v3/ticker/bookTicker"),
    "order.place": ("POST", "/api/v3/order"),
    "order.test": ("POST", "/api/v3/order/test"),
    "order.status": ("GET", "/api/v3/order"),
    "order.cancel": ("DELETE", "/api/v3/order"),
    "order.cancelReplace": ("POST", "/api/v3/order/cancelReplace"),
    "openOrders.status": ("GET", "/api/v3/openOrders"),
    "openOrders.cancelAll": ("DELETE", "/api/v3/openOrders"),
    "orderList.place.oco": ("POST", "/api/v3/orderList/oco"),
    "orderList.place.oto": ("POST", "/api/v3/orderList/oto"),
    "orderList.place.otoco": ("POST", "/api/v3/orderList/otoco"),
    "orderList.status": ("GET", "/api/v3/orderList"),
    "orderList.cancel": ("DELETE", "/api/v3/orderList"),
    "openOrderLists.status": ("GET", "/api/v3/openOrderList"),
    "allOrderLists": ("GET", "/api/v3/allOrderList"),
    "allOrders": ("GET", "/api/v3/allOrders"),
    "myTrades": ("GET", "/api/v3/myTrades"),
    "account.status": ("GET", "/api/v3/account"),
    "account.commission": ("GET", "/api/v3/account/commission"),
    "account.rateLimits.orders": ("GET", "/api/v3/rateLimit/order"),
    "executionRules": ("GET", "/api/v3/executionRules"),
    "blockTrades.historical": ("GET", "/api/v3/historicalBlockTrades"),
    "referencePrice": ("GET", "/api/v3/referencePrice"),
    "referencePrice.calculation": ("GET", "/api/v3/referencePrice/calculation"),
    "myAllocations": ("GET", "/api/v3/myAllocations"),
    "myFilters": ("GET", "/api/v3/myFilters"),
    "myPreventedMatches": ("GET", "/api/v3/myPreventedMatches"),
    "order.amendments": ("GET", "/api/v3/order/amendments"),
    "order.amend.keepPriority": ("PUT", "/api/v3/order/amend/keepPriority"),
    "orderList.place": ("POST", "/api/v3/order/oco"),
    "orderList.place.opo": ("POST", "/api/v3/orderList/opo"),
    "orderList.place.opoco": ("POST", "/api/v3/orderList/opoco"),
    "sor.order.place": ("POST", "/api/v3/sor/order"),
    "sor.order.test": ("POST", "/api/v3/sor/order/test"),
}
REST_METHODS = {name: route for name, route in REST_METHODS.items() if route in BY_ROUTE}
MAX_ID_LENGTH = 36
_SIGNING = frozenset({"apiKey", "signature"})


def id_problem(rid: Any) -> bool:
    """True for an id Binance refuses: not an integer, null or a string of at most 36 characters."""
    if rid is None or (isinstance(rid, int) and not isinstance(rid, bool) and -(1 << 63) <= rid < (1 << 63)):
        return False
    return not (isinstance(rid, str) and len(rid) <= MAX_ID_LENGTH)


class ApiSide:
    """The WebSocket API's request handling; needs ``exchange``, the subscription limits, ``_enqueue``
    and ``exchange_changed`` from :class:`~.ws_server.FakeStreams`."""

    exchange: Any
    max_user_subscriptions: int
    max_subscription_ids: int
    _enqueue: Callable[..., None]
    exchange_changed: Callable[[], None]

    def _api_request(self, conn: "_Conn", raw: str | bytes) -> dict[str, Any]:
        try:
            request = json.loads(raw)
        except ValueError:
            return {"id": None, "status": 400, "error": {"code": -1100, "msg": "Malformed request."}}
        if not isinstance(request, dict):
            return {"id": None, "status": 400, "error": {"code": -1100, "msg": "Malformed request."}}
        rid = request.get("id")
        if id_problem(rid):
            return {"id": None, "status": 400, "error": {
                "code": -1100, "msg": "Illegal characters found in parameter 'id'; legal range is "
                                      "'integer, null, or a string of at most 36 characters'."}}
        params = request.get("params") or {}
        method = request.get("method")
        show_limits = conn.return_rate_limits
        conn.order_counts = None
        try:
            if not isinstance(params, dict):
                raise ApiError(-1102, "Field value was empty or malformed.")
            if "returnRateLimits" in params:
                show_limits = params["returnRateLimits"] is not False
                params = {k: v for k, v in params.items() if k != "returnRateLimits"}
            if isinstance(method, str) and method.startswith("v3/"):
                method = method[len("v3/"):]
            self._count_weight(conn, self._weight(method, params))
            result = self._api_method(conn, method, params)
        except ApiError as exc:
            reply: dict[str, Any] = {"id": rid, "status": exc.status, "error": exc.payload()}
        else:
            reply = {"id": rid, "status": 200, "result": result}
        if show_limits:
            reply["rateLimits"] = self._rate_limits(conn)
        return reply

    # ------------------------------------------------------------------ request weight, per IP
    def _weight(self, method: Any, params: dict[str, Any]) -> int:
        """A method's weight: its REST twin's (argument tables included), 1 for ping and time, else 2."""
        if isinstance(method, str) and method in REST_METHODS:
            raw = {k: _text(v) for k, v in params.items() if k not in _SIGNING}
            return int(self.exchange._weight(BY_ROUTE[REST_METHODS[method]], raw))
        return 1 if method in ("ping", "time") else 2

    def _count_weight(self, conn: "_Conn", weight: int) -> None:
        """Add ``weight`` to the IP's minute, shared with REST; over the limit: 429, then 418 (-1003)."""
        with self.exchange.lock:
            now = self.exchange.server_time_ms()
            refused = self.exchange._gate(conn.ip, weight, now)
            if refused is None:
                return
            retry_at = (self.exchange.banned_until_ms(conn.ip) if refused.status == 418
                        else now + int(refused.headers["Retry-After"]) * 1000)
        raise ApiError(refused.body["code"], refused.body["msg"], status=refused.status,
                       data={"serverTime": now, "retryAfter": retry_at})

    def _rate_limits(self, conn: "_Conn") -> list[dict[str, Any]]:
        """REQUEST_WEIGHT, after the ORDERS counts when the request placed orders (web-socket-api.md)."""
        limits: list[dict[str, Any]] = []
        if conn.order_counts is not None:
            ten_s, one_d = conn.order_counts
            limits = [{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100, "count": ten_s},
                      {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000, "count": one_d}]
        return limits + [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                          "limit": self.exchange.weight_limit_per_minute, "count": self.exchange.used_weight(conn.ip)}]

    def _api_method(self, conn: "_Conn", method: Any, params: dict[str, Any]) -> Any:
        if method == "ping":
            return {}
        if method == "time":
            return {"serverTime": self.exchange.server_time_ms()}
        if method in ("session.logon", "session.status", "session.logout"):
            return self._session(conn, method, params)
        if method == "session.subscriptions":
            return [{"subscriptionId": sub_id} for sub_id in sorted(conn.user_subs)]
        if method == "userDataStream.unsubscribe":
            wanted = params.get("subscriptionId")
            ids = sorted(conn.user_subs) if wanted is None else [wanted] if wanted in conn.user_subs else []
            for sub_id in ids:
                self._end_user_subscription(conn, sub_id)
            return {}
        if method == "userDataStream.subscribe.signature":
            with self.exchange.lock:
                api_key, account = self._signed(conn, params, logon_allowed=False)
            return {"subscriptionId": self._subscribe(conn, api_key, account)}
        if method == "userDataStream.subscribe":
            if conn.logon is None:
                raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
            return {"subscriptionId": self._subscribe(conn, *conn.logon)}
        if isinstance(method, str) and method in REST_METHODS:
            return self._rest(conn, REST_METHODS[method], params)
        raise ApiError(-1100, f"Unknown method: {str(method)[:40]}")

    # ------------------------------------------------------------------ signing and sessions
    def _signed(self, conn: "_Conn", params: dict[str, Any], *, logon_allowed: bool) -> tuple[str, Account]:
        """The API key and account a signed request acts for (its own signature, else the session's)."""
        if logon_allowed and conn.logon is not None and "signature" not in params:
            if params.get("timestamp") in (None, ""):
                raise ApiError(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
            self._check_timing(params)
            return conn.logon
        for name in ("apiKey", "timestamp", "signature"):
            if params.get(name) in (None, ""):
                raise ApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        entry = self.exchange.keys.get(str(params["apiKey"]))
        if entry is None:
            raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
        key, account = entry
        payload = "&".join(f"{k}={_text(v)}" for k, v in sorted(params.items()) if k != "signature")
        if not verify_signature(key, payload.encode("utf-8"), str(params["signature"])):
            raise ApiError(-1022, "Signature for this request is not valid.")
        self._check_timing(params)
        return key.api_key, account

    def _check_timing(self, params: dict[str, Any]) -> None:
        window = parse_recv_window(_text(params["recvWindow"]) if "recvWindow" in params else None)
        check_timing(parse_timestamp_ms(_text(params["timestamp"])), window, Decimal(self.exchange.server_time_ms()))

    def _session(self, conn: "_Conn", method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "session.logon":
            with self.exchange.lock:
                api_key, account = self._signed(conn, params, logon_allowed=False)
                if self.exchange.keys[api_key][0].key_type != "ED25519":
                    raise ApiError(-1002, "You are not authorized to execute this request.", status=401)
            conn.logon = (api_key, account)
            conn.authorized_since = self.exchange.server_time_ms()
        elif method == "session.logout":
            conn.logon, conn.authorized_since = None, None
        return {"apiKey": conn.logon[0] if conn.logon else None, "authorizedSince": conn.authorized_since,
                "connectedSince": conn.connected_since, "returnRateLimits": conn.return_rate_limits,
                "serverTime": self.exchange.server_time_ms(), "userDataStream": bool(conn.user_subs)}

    # ------------------------------------------------------------------ REST-backed methods
    def _rest(self, conn: "_Conn", route: tuple[str, str], params: dict[str, Any]) -> Any:
        endpoint = BY_ROUTE[route]
        with self.exchange.lock:
            account = self._signed(conn, params, logon_allowed=True)[1] if endpoint.signed else None
            raw = {k: _text(v) for k, v in params.items() if k not in _SIGNING}
            typed = validate(endpoint, raw)
            ctx = Ctx(endpoint, typed, account, self.exchange.server_time_ms())
            body = self.exchange._handlers[endpoint.key](ctx)
            reply = body if isinstance(body, Reply) else Reply(200, body)
            if endpoint.order_count and account is not None:
                self.exchange._count_orders(account, ctx.now, endpoint.order_count, reply)
                if "X-MBX-ORDER-COUNT-10S" in reply.headers:  # placed: the account's ORDERS counts
                    conn.order_counts = (int(reply.headers["X-MBX-ORDER-COUNT-10S"]),
                                         int(reply.headers["X-MBX-ORDER-COUNT-1D"]))
            for listener in self.exchange.listeners:
                listener()
        if reply.status != 200:
            error = reply.body if isinstance(reply.body, dict) else {}
            raise ApiError(int(error.get("code", -1000)), str(error.get("msg", "")), status=reply.status)
        return reply.body

    # ------------------------------------------------------------------ user data subscriptions
    def _subscribe(self, conn: "_Conn", api_key: str, account: Account) -> int:
        if any(a is account for a in conn.user_subs.values()):  # whichever of the account's keys signed
            raise ApiError(-2035, "User Data Stream subscription already active.")
        if conn.started_subs >= self.max_subscription_ids or len(conn.user_subs) >= self.max_user_subscriptions:
            raise ApiError(-2042, "Maximum subscription ID reached for this connection.")
        sub_id = conn.started_subs
        conn.started_subs += 1
        conn.user_subs[sub_id] = account
        conn.api_keys[sub_id] = api_key
        return sub_id

    def _end_user_subscription(self, conn: "_Conn", sub_id: int) -> None:
        conn.user_subs.pop(sub_id)
        conn.api_keys.pop(sub_id, None)
        self._enqueue(conn, {"subscriptionId": sub_id, "event": {
            "e": "eventStreamTerminated", "E": self.exchange.server_time_ms()}})


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
