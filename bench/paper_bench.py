"""Section 9 of bench/run.py: paper trading (issue 24).

* **A paper MARKET order vs a testnet MARKET order**, side by side on one server over stdio: the
  same TOOLS.md holds the benchmark's testnet account on the fake and a paper account whose
  market data is the same fake. The testnet order is one signed POST the fake matches; the paper
  order reads the fake's book (and average price for the notional filter) and fills on this
  computer in one SQLite transaction. Both are journaled and guarded alike. Interleaved in a
  seeded random order, BUY and SELL alternating so neither book drains; three rounds of 40 each,
  10.5 s apart, because the server paces orders at Binance's 100 per 10 s.
* **Catch-up throughput**: the paper desk's own time to fill resting orders from the market's
  aggregate trades. A stub market in this process (``tests/paper/paper_stub.py``: no network, so
  only our code is timed) feeds ``n`` aggregate trades, a mean-reverting walk around the mid,
  against eight resting LIMIT orders (four bids, four asks) that it trades through again and
  again; ``catch_up`` reads them in pages of 1,000, matches them and writes the fills. Measured
  twice: with orders of 1 BTC (they fill up early in the tape, as most orders would) and of
  100 BTC (they stay open all along, so every trade through a price is a fill: the worst case).
  This is the one figure for which the benchmark imports the package (the paper wing, in process).
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
from harness import Row, World, check, connect, console_script, median, pct, ratio_row
from mcp import Client, StdioServerParameters

D = Decimal
SYMBOL = "BTCUSDT"
ORDER = {"symbol": SYMBOL, "type": "MARKET", "quantity": "0.001"}
SAMPLES, QUICK_SAMPLES = 40, 5  # per kind and round: the server paces orders at Binance's 100 per 10 s
ROUNDS, QUICK_ROUNDS = 3, 1
ROUND_S = 10.5  # a round's testnet orders leave the ORDERS window before the next round starts
PAPER_RATIO_TARGET = 1.0  # the paper order no slower than the testnet one
TRADES, QUICK_TRADES = 50_000, 2_000
CATCH_UP_TARGET = 10_000  # trades per second


def paper_world(world: World) -> StdioServerParameters:
    """A TOOLS.md with the benchmark's testnet account and a paper account, both on the fake;
    journal and desk database in a directory of their own."""
    directory = world.directory / "paper"
    directory.mkdir(exist_ok=True)
    testnet = world.tools_file.read_text().split("## Binance Accounts\n", 1)[1]
    tools = directory / "TOOLS.md"
    tools.write_text("## Binance Accounts\n" + testnet + "\n### practice\n- Environment: paper\n"
                     f"- Base URL: {world.base_url}\n- Paper Balances: 1000000 USDT, 100 BTC\n")
    tools.chmod(0o600)
    env = {**world.server_env, "BINANCE_SPOT_MCP_JOURNAL": str(directory / "journal.jsonl")}
    return StdioServerParameters(command=console_script(), args=["--tools-file", str(tools)], env=env, cwd=str(directory))


async def _order(client: Client, account: str, side: str) -> float:
    t0 = time.perf_counter()
    result = await client.call_tool("place_order", {**ORDER, "side": side, "account": account})
    elapsed = (time.perf_counter() - t0) * 1000
    check(result)
    status = json.loads(result.content[0].text)["status"]
    if status != "FILLED":
        raise RuntimeError(f"a {account} MARKET {side} came back {status}, not FILLED")
    return elapsed


def fund(world: World) -> None:
    """Enough USDT and BTC on the fake's testnet account for this section's orders, whatever ran before."""
    account = world.fake.exchange.account_for(world.api_key)
    with world.fake.exchange.lock:
        account.balances["USDT"] = [D(1_000_000), D(0)]
        account.balances["BTC"] = [D(100), D(0)]


async def market_orders(world: World, quick: bool, mode: str, rng: random.Random) -> dict[str, list[float]]:
    samples, rounds = (QUICK_SAMPLES, QUICK_ROUNDS) if quick else (SAMPLES, ROUNDS)
    times: dict[str, list[float]] = {"main": [], "practice": []}
    sides = {"main": 0, "practice": 0}
    fund(world)  # earlier sections trade on the same testnet account: give this one its own float
    async with connect(paper_world(world), world, mode) as client:
        check(await client.call_tool("get_exchange_info", {"symbol": SYMBOL}))  # the fake's large weight limit
        for account in times:  # warm-up: exchangeInfo cached, journal and desk database open
            for side in ("BUY", "SELL"):
                await _order(client, account, side)
        started = time.monotonic()
        for round_number in range(rounds):
            if round_number:
                await anyio.sleep(max(0.0, started + ROUND_S - time.monotonic()))
                started = time.monotonic()
            order = [name for name in times for _ in range(samples)]
            rng.shuffle(order)
            for account in order:
                side = ("BUY", "SELL")[sides[account] % 2]
                sides[account] += 1
                times[account].append(await _order(client, account, side))
    return times


async def catch_up_rate(n: int, seed: int, size: int) -> dict[str, Any]:
    """Trades per second through ``Placer.catch_up`` with a stub market (our own time only)."""
    from binance_spot_mcp.catalog.endpoints import load_catalog
    from binance_spot_mcp.paper.desk import PaperDesk
    from binance_spot_mcp.paper.settings import PaperSettings
    from binance_spot_mcp.store import Store

    from tests.paper.paper_stub import StubAccount, StubMarket

    rng = random.Random(seed)
    mid = D(60000)
    market = StubMarket()
    market.set_book([(mid - 10 * (i + 1), D(2)) for i in range(20)], [(mid + 10 * (i + 1), D(2)) for i in range(20)])
    market.trade(mid, D("0.01"), False)
    clock = iter(range(1_700_000_000_000, 1_800_000_000_000))
    catalog = load_catalog()
    endpoint = catalog.get("place_order")
    assert endpoint is not None
    with tempfile.TemporaryDirectory(prefix="bench-paper-") as tmp:
        store = Store(Path(tmp) / "desk.sqlite3")
        desk = PaperDesk(store, market.public, clock_ms=lambda: next(clock))
        account = StubAccount(paper=PaperSettings(balances=(("USDT", D(10**12)), ("BTC", D(10**6)))))
        for i in range(4):  # 0.05 % .. 0.2 % either side of the mid, ``size`` BTC each
            for side, sign in (("BUY", -1), ("SELL", 1)):
                price = mid + sign * mid * D("0.0005") * (i + 1)
                await desk.handle(endpoint, [("symbol", SYMBOL), ("side", side), ("type", "LIMIT"), ("timeInForce", "GTC"),
                                             ("quantity", str(size)), ("price", str(price.quantize(D("0.01"))))], account)
        price = float(mid)
        for _ in range(n):  # a walk pulled back to the mid: it crosses the orders' prices again and again
            price += rng.gauss(0, 6) - (price - float(mid)) * 0.01
            market.trade(D(f"{price:.2f}"), D(rng.randint(1, 2000)) / 10_000, rng.random() < 0.5)
        t0 = time.perf_counter()
        fills = calls = 0
        while True:
            made = await desk.placer.catch_up(account)
            calls += 1
            fills += made
            with store.read() as db:
                checkpoint = db.execute("SELECT last_agg_id FROM paper_checkpoints").fetchone()[0]
            if checkpoint >= market.trades[-1]["a"]:
                break
        elapsed = time.perf_counter() - t0
        store.close()
    return {"trades": n, "size": size, "seconds": elapsed, "fills": fills, "calls": calls, "rate": n / elapsed}


async def paper_section(world: World, quick: bool, mode: str, rng: random.Random, seed: int) -> tuple[list[Row], dict[str, Any]]:
    times = await market_orders(world, quick, mode, rng)
    paper, testnet = times["practice"], times["main"]
    catches = [await catch_up_rate(QUICK_TRADES if quick else TRADES, seed, size) for size in (1, 100)]
    rows = [
        ratio_row("9", f"MARKET order: paper vs testnet on the fake, median (ms; {len(paper)} each)",
                  median(paper), median(testnet), PAPER_RATIO_TARGET),
        ratio_row("9", "MARKET order: paper vs testnet on the fake, p99 (ms)", pct(paper, 99), pct(testnet, 99)),
    ]
    for catch in catches:
        rows.append(Row(
            "9", f"catch-up: {catch['trades']:,} aggregate trades, 8 resting orders of {catch['size']:,} BTC, "
            f"{catch['fills']:,} fills (trades/s)", round(catch["rate"]), "—", f"{catch['seconds'] * 1000:.0f} ms",
            f">= {CATCH_UP_TARGET:,}/s", "yes" if catch["rate"] >= CATCH_UP_TARGET else "NO"))
    return rows, {"paper": {"paper_ms": paper, "testnet_ms": testnet, "catch_up": catches}}
