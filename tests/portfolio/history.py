"""A scripted trade history on the fake exchange, for the portfolio tests.

The account ``main`` of the test world trades against a market maker of its own (``mm``) at
exact prices: the seeded books of the symbols used are emptied first, the maker rests a limit
order, and ``main`` crosses it (taker, fee 0.1 % of what it receives, or 0.01 BNB per fill once
``bnb_fees`` is switched on)."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.fake_binance.engine import Book
from tests.fake_binance.symbols import SymbolSpec

D = Decimal
MM_KEY, MM_SECRET = "Mm" + "k" * 62, "s" * 64


def signed(world: Any, key: str, secret: str, method: str, path: str, params: dict[str, Any]) -> Any:
    query = {**params, "timestamp": world.exchange.server_time_ms()}
    payload = urlencode(query)
    signature = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    reply = httpx.request(method, f"{world.base_url}/api/v3/{path}?{payload}&signature={signature}",
                          headers={"X-MBX-APIKEY": key}, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


class History:
    """Places matched trades for ``main`` at exact prices."""

    def __init__(self, world: Any, balances: dict[str, str]) -> None:
        self.world = world
        ex = world.exchange
        ex.add_account(MM_KEY, hmac_secret=MM_SECRET,
                       balances={"USDT": "10000000", "BTC": "100", "ETH": "1000", "BNB": "1000"})
        main = ex.account_for(world.keys.hmac_api_key)
        main.balances.clear()
        for asset, amount in balances.items():
            main.bal(asset)[0] = D(amount)
        self.main = main
        for symbol in ("BTCUSDT", "ETHUSDT", "BNBUSDT"):
            ex.books[symbol] = Book(ex.symbols[symbol])  # no seeded liquidity: prices are the test's

    def trade(self, symbol: str, side: str, quantity: str, price: str) -> dict[str, Any]:
        """``main`` buys or sells ``quantity`` at ``price`` (the maker rests the other side first)."""
        maker_side = "SELL" if side == "BUY" else "BUY"
        order = {"symbol": symbol, "type": "LIMIT", "timeInForce": "GTC", "quantity": quantity, "price": price}
        signed(self.world, MM_KEY, MM_SECRET, "POST", "order", {**order, "side": maker_side})
        keys = self.world.keys
        placed = signed(self.world, keys.hmac_api_key, keys.hmac_secret, "POST", "order", {**order, "side": side})
        assert placed["status"] == "FILLED", placed
        return placed

    def bnb_fees(self, per_fill: str | None) -> None:
        self.main.bnb_fee_per_fill = D(per_fill) if per_fill is not None else None

    def last_trade_time(self, symbol: str) -> int:
        return self.world.exchange.trades[symbol][-1].time

    def kline_close(self, symbol: str, time_ms: int) -> Decimal:
        """The close of the one-minute candle holding ``time_ms``, as the fake serves it."""
        minute = time_ms - time_ms % 60_000
        rows = httpx.get(f"{self.world.base_url}/api/v3/klines",
                         params={"symbol": symbol, "interval": "1m", "startTime": minute, "limit": 1}).json()
        return D(rows[0][4])


def list_bridge_only(world: Any, base: str = "XYZ", price: str = "0.00010000") -> None:
    """A symbol quoted only in BTC: its base is priced through BTC."""
    world.exchange.list_symbol(SymbolSpec(f"{base}BTC", base, "BTC", D(price), D("0.00000001"), D("1"), D("1"),
                                          D("9000000"), D("0.0001"), D("9000000"), D("100000")))
