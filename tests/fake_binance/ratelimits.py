"""The REQUEST_WEIGHT limit and the ORDERS counts of the fake exchange (rest-api.md, "LIMITS").

Weight is counted per client IP per server-clock minute, like the real exchange: past
``weight_limit_per_minute`` a request is refused with HTTP 429, and a client that keeps sending
inside the announced ``Retry-After`` window is banned with HTTP 418 for ``ban_seconds``.
:meth:`RateLimits._weight` holds the documented tables for endpoints whose weight depends on
the request's arguments. Successful order requests are counted per account for the
``X-MBX-ORDER-COUNT-*`` headers and ``GET /api/v3/rateLimit/order`` (no ORDERS limit is enforced).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .endpoints import Endpoint
from .engine import Account
from .errors import ApiError
from .params import RawRequest, merged_params, parse_symbols
from .records import Reply


@dataclass
class _IpLimits:
    """REQUEST_WEIGHT bookkeeping for one client IP."""

    minute: int = -1
    used: int = 0
    throttled_until: int = 0  # end of the window announced by the last 429 (server ms)
    banned_until: int = 0  # end of the 418 ban (server ms)


class RateLimits:
    """Rate-limit state and checks, mixed into :class:`~.exchange.Exchange`.

    Uses the exchange's ``lock``, ``symbols`` and :meth:`server_time_ms`.
    """

    def __init__(self) -> None:
        super().__init__()
        # REQUEST_WEIGHT per IP per clock minute, like the real exchange.
        self.weight_limit_per_minute: int = 6000
        self.ban_seconds: int = 120
        self.rate_limit_hits = 0  # number of HTTP 429 replies sent
        self.ban_hits = 0  # number of HTTP 418 replies sent
        self._limits: dict[str, _IpLimits] = {}
        self._order_times: dict[int, list[int]] = {}

    # ------------------------------------------------------------------ knobs
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
