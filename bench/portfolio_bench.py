"""Section 8 of bench/run.py: the portfolio (issue 25).

A history is written straight into the fake's books (no order traffic): ``assets`` assets, each
listed against USDT, with ``trades`` trades between them (a few symbols over 1,000 trades, so
``fromId`` paging needs a second page there). Then, over stdio through the console script:

* the first ``get_portfolio`` syncs every candidate symbol: its ``myTrades`` requests are counted
  at the fake and compared with the fewest ``fromId`` paging allows (per symbol ``n // 1000 + 1``);
* later calls find the cache warm (every symbol synced seconds ago): the median call is compared
  with a ``get_ticker_price`` of all symbols through the same server, the one request a warm call
  cannot do without; the difference is our own time (balances, store reads, the arithmetic).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from harness import Row, World, check, connect, diff_row, median, ours_params, ratio_row

from tests.fake_binance.engine import Order, Trade
from tests.fake_binance.symbols import SymbolSpec

D = Decimal
PAGE = 1000
REQUESTS_RATIO_TARGET = 1.1
WARM_OWN_TIME_TARGET_MS = 100.0


def seed_history(world: World, assets: int, trades: int) -> dict[str, int]:
    """Trades of ``main`` per symbol, written into the fake; balances made to match."""
    ex = world.fake.exchange
    account = ex.account_for(world.api_key)
    big = max(1, assets // 6)
    heavy = min(trades // 2 // big, 1500)
    counts = [heavy] * big
    rest = trades - heavy * big
    counts += [rest // (assets - big) + (1 if i < rest % (assets - big) else 0) for i in range(assets - big)]
    now = ex.server_time_ms()
    with ex.lock:
        account.balances.clear()
        account.bal("USDT")[0] = D(10_000_000)
        for i, n in enumerate(counts):
            base = f"PF{i}"
            symbol = f"{base}USDT"
            ex.list_symbol(SymbolSpec(symbol, base, "USDT", D("10.0000"), D("0.0001"), D("0.01"), D("0.01"),
                                      D("9000000"), D("1"), D("9000000"), D("100000")), seed_book=False)
            held = D(0)
            for k in range(n):
                buy = k % 3 != 2
                price, qty = D(10) + D(k % 50) / 10, D("1.00")
                own = Order(symbol, k + 1, "bench", "BUY" if buy else "SELL", "LIMIT", price, qty, account=account,
                            status="FILLED", executed_qty=qty)
                other = Order(symbol, 0, "seed", "SELL" if buy else "BUY", "LIMIT", price, qty)
                ex.trades[symbol].append(Trade(
                    k + 1, symbol, price, qty, now - (n - k) * 1000, buyer_is_maker=not buy,
                    buy_order=own if buy else other, sell_order=other if buy else own,
                    buy_commission=D("0.001"), sell_commission=D("0.01")))
                held += qty - D("0.001") if buy else -qty
            ex._next_trade_id[symbol] = n + 1
            account.bal(base)[0] = held
            ex.last_price[symbol] = D(12)
    return {f"PF{i}USDT": n for i, n in enumerate(counts)}


async def portfolio_section(world: World, quick: bool, mode: str) -> tuple[list[Row], dict[str, Any]]:
    assets, trades, calls = (4, 400, 3) if quick else (30, 10_000, 20)
    counts = seed_history(world, assets, trades)
    ex = world.fake.exchange
    async with connect(ours_params(world), world, mode) as client:
        check(await client.call_tool("get_exchange_info", {}))  # adopt the fake's large weight limit
        before = len(ex.requests_to("/api/v3/myTrades"))
        t0 = time.perf_counter()
        first = await client.call_tool("get_portfolio", {})
        first_s = time.perf_counter() - t0
        check(first)
        asked = ex.requests_to("/api/v3/myTrades")[before:]
        symbols = {r.params.get("symbol") for r in asked}
        minimum = sum(counts.get(s, 0) // PAGE + 1 for s in symbols)
        synced = first.structured_content["sync"]
        warm: list[float] = []
        prices: list[float] = []
        for _ in range(calls):  # interleaved: the same load on both
            t0 = time.perf_counter()
            result = await client.call_tool("get_portfolio", {})
            warm.append((time.perf_counter() - t0) * 1000)
            check(result)
            assert result.structured_content["sync"]["requests"] == 0, "the cache was not warm"
            t0 = time.perf_counter()
            check(await client.call_tool("get_ticker_price", {}))
            prices.append((time.perf_counter() - t0) * 1000)
    rows = [
        ratio_row("8", f"first sync: myTrades requests ({len(symbols)} symbols, {sum(counts.values()):,} trades) "
                  "vs the fromId minimum", len(asked), minimum, REQUESTS_RATIO_TARGET),
        Row("8", "first get_portfolio with the sync (s)", round(first_s, 2), "—", "—", "info"),
        diff_row("8", f"get_portfolio, warm cache ({assets} assets, {synced['trades']:,} trades) vs all prices, "
                 f"median (ms; {calls} each)", median(warm), median(prices), WARM_OWN_TIME_TARGET_MS),
    ]
    raw = {"portfolio": {"requests": len(asked), "minimum": minimum, "symbols": len(symbols), "first_s": first_s,
                         "warm_ms": warm, "prices_ms": prices, "trades": synced["trades"]}}
    return rows, raw
