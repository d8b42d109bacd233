"""The trade-history sync against the fake: fromId paging at the minimum number of requests,
the weight it spends counted at the fake and kept within its share, no 429, and a resumed sync
that neither misses nor repeats a trade. Time is the fake's clock, moved forward by the sync's
own waits (no real sleeping)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import anyio
import pytest

from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.exchange.client import BinanceClient
from binance_spot_mcp.exchange.limits import RateLimiter
from binance_spot_mcp.exchange.signing import HmacSigner
from binance_spot_mcp.portfolio.cache import TradeCache
from binance_spot_mcp.portfolio.sync import Candidate, TradeSync, minimum_requests
from binance_spot_mcp.store import open_store
from tests.fake_binance.symbols import SymbolSpec
from tests.portfolio.history import History

pytestmark = pytest.mark.anyio
CATALOG = load_catalog()
D = Decimal


@dataclass(frozen=True)
class Creds:
    api_key: str
    signer: HmacSigner
    base_url: str


class VirtualTime:
    """The fake's server clock as the limiter's and the sync's clock; sleeping moves it on."""

    def __init__(self, exchange) -> None:
        self.exchange = exchange
        self.slept = 0.0

    def now(self) -> float:
        return self.exchange.server_time_ms() / 1000

    async def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.exchange.advance_time_ms(int(seconds * 1000) + 1)


def weight_per_minute(exchange) -> dict[int, int]:
    """The weight the fake counted in each of its minutes (read after every request)."""
    seen: dict[int, int] = {}

    def listen() -> None:
        minute = exchange.server_time_ms() // 60_000
        seen[minute] = max(seen.get(minute, 0), exchange.used_weight())

    exchange.listeners.append(listen)
    return seen


@pytest.fixture
def setup(world, tmp_path):
    history = History(world, {"USDT": "100000", "BTC": "1"})
    for price in ("50000", "50100", "50200", "50300", "50400", "50500", "50600"):
        history.trade("BTCUSDT", "BUY", "0.01", price)  # 7 trades: pages of 3 need 3 requests
    ex = world.exchange
    for n in range(24):  # 30 symbols in all
        ex.list_symbol(SymbolSpec(f"AS{n}USDT", f"AS{n}", "USDT", D("1.0000"), D("0.0001"), D("1"), D("1"),
                                  D("9000000"), D("1"), D("9000000"), D("100000")), seed_book=False)
    ex.weight_limit_per_minute = 400
    clock = VirtualTime(ex)
    client = BinanceClient(skill_version="test", clock_ms=lambda: ex.server_time_ms(),
                           limiter=RateLimiter(clock=clock.now, sleep=clock.sleep))
    creds = Creds(world.keys.hmac_api_key, HmacSigner(world.keys.hmac_secret), world.base_url)
    candidates = [Candidate(s, spec.base, spec.quote) for s, spec in sorted(ex.symbols.items())]
    cache = TradeCache(open_store(tmp_path / "state"))
    return world, client, clock, creds, candidates, cache


async def configure(client: BinanceClient, base_url: str) -> None:
    await client.call(CATALOG.get("get_exchange_info"), [], base_url=base_url, account=None)  # adopts the limits


async def test_first_sync_makes_the_minimum_requests_within_its_share(setup):
    world, client, clock, creds, candidates, cache = setup
    ex = world.exchange
    await configure(client, world.base_url)
    minutes = weight_per_minute(ex)
    before = len(ex.requests_to("/api/v3/myTrades"))
    sync = TradeSync(client, CATALOG.get("get_my_trades"), cache, page=3, clock=clock.now, sleep=clock.sleep)
    assert sync.allowance(world.base_url) == 190  # half of 400 less the 5 % headroom
    with anyio.fail_after(30):
        report = await sync.run(creds, "testnet:k", candidates)
    sent = len(ex.requests_to("/api/v3/myTrades")) - before
    counts = [7 if c.symbol == "BTCUSDT" else 0 for c in candidates]
    assert len(candidates) == 30 and report.new_trades == 7
    assert sent == report.requests == minimum_requests(counts, page=3) == 32
    assert ex.rate_limit_hits == 0 and ex.ban_hits == 0
    assert max(minutes.values()) <= 190  # counted at the fake, every minute
    assert sum(minutes.values()) >= 32 * 20 and len(minutes) >= 4  # it had to wait for later windows
    assert clock.slept > 0
    assert [f.trade_id for f in cache.fills("testnet:k")] == [1, 2, 3, 4, 5, 6, 7]
    await client.aclose()


async def test_a_stopped_sync_resumes_without_gaps_or_repeats(setup):
    world, client, clock, creds, candidates, cache = setup
    await configure(client, world.base_url)
    sync = TradeSync(client, CATALOG.get("get_my_trades"), cache, page=3, clock=clock.now, sleep=clock.sleep)
    btc = [c for c in candidates if c.symbol == "BTCUSDT"]

    class Stop(Exception):
        pass

    pages = 0
    real_save = cache.save_page

    def save_then_stop(*args, **kwargs):
        nonlocal pages
        real_save(*args, **kwargs)
        pages += 1
        if pages == 1:
            raise Stop  # the process dies after the first page was saved

    cache.save_page = save_then_stop  # type: ignore[method-assign]
    with pytest.raises(Stop), anyio.fail_after(30):
        await sync.run(creds, "testnet:k", btc)
    assert [f.trade_id for f in cache.fills("testnet:k")] == [1, 2, 3]
    assert cache.checkpoints("testnet:k")["BTCUSDT"].next_from_id == 4
    before = len(world.exchange.requests_to("/api/v3/myTrades"))
    with anyio.fail_after(30):
        report = await sync.run(creds, "testnet:k", btc)
    asked = [r.params["fromId"] for r in world.exchange.requests_to("/api/v3/myTrades")[before:]]
    assert asked == ["4", "7"] and report.new_trades == 4
    assert [f.trade_id for f in cache.fills("testnet:k")] == [1, 2, 3, 4, 5, 6, 7]
    await client.aclose()


async def test_the_history_is_read_again_only_when_the_store_changed(tmp_path):
    """A warm get_portfolio reuses the trades it read (and the ledger replayed from them); a page
    saved by any process (an export, another server) changes the stamp, and they are read again."""
    from binance_spot_mcp.portfolio.costs import Fill
    from binance_spot_mcp.portfolio.tool import PortfolioTools

    cache = TradeCache(open_store(tmp_path / "state"))
    tools = PortfolioTools(accounts=None, client=None, catalog=CATALOG, redactor=None, journal=None,  # type: ignore[arg-type]
                           state_dir=tmp_path / "state")

    def trade(tid: int) -> Fill:
        return Fill("BTCUSDT", "BTC", "USDT", tid, tid, tid, True, False, D(1), D(1), D(1), D(0), "BTC")

    cache.save_page("id", [trade(1)], "BTCUSDT", 2, 0)
    stamp, first = await tools.fills(cache, "id")
    assert (await tools.fills(cache, "id"))[1] is first  # not read again
    TradeCache(open_store(tmp_path / "state")).save_page("id", [trade(2)], "BTCUSDT", 3, 1)
    stamp2, second = await tools.fills(cache, "id")
    assert stamp2 != stamp and [f.trade_id for f in second] == [1, 2]
    cache.save_page("id", [], "BTCUSDT", 3, 2)  # nothing new: the same history
    assert (await tools.fills(cache, "id"))[1] is second
