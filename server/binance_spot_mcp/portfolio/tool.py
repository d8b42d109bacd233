"""``get_portfolio``: what the account holds, what it is worth, what it cost and what it made.

One call: the balances (``GET /api/v3/account``), the symbols and prices (``exchangeInfo``,
``ticker/price``), a sync of the trade history into the local cache (``sync``; progress
notifications while it runs), the values at trade time a fee in BNB or a trade in another quote
needs (one-minute klines, cached), then the arithmetic (``costs``) and the result (``report``):
a text table and ``structuredContent``. Every request goes through the runtime's client with the
account, so it works for any account the client can serve.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread

from mcp.types import CallToolResult, TextContent, Tool, ToolAnnotations

from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.accounts.store import AccountStore
from binance_spot_mcp.catalog.endpoints import Catalog
from binance_spot_mcp.errors import BinanceSpotError, ToolInputError
from binance_spot_mcp.exchange.client import BinanceClient
from binance_spot_mcp.journal import Journal
from binance_spot_mcp.policy import is_symbol
from binance_spot_mcp.portfolio.cache import TradeCache
from binance_spot_mcp.portfolio.costs import AVERAGE, METHODS, PRECISION, Fill, Ledger, Period, replay
from binance_spot_mcp.portfolio.pricing import Market, market_from, minute_of, price_of, rate_symbol, to_decimal
from binance_spot_mcp.portfolio.report import OUTPUT_SCHEMA, Holding, build, text_table
from binance_spot_mcp.portfolio.sync import Candidate, Progress, TradeSync
from binance_spot_mcp.redact import Redactor
from binance_spot_mcp.results import failure, visible
from binance_spot_mcp.store import open_store

GET_PORTFOLIO = "get_portfolio"
MARKET_TTL_S = 300.0
# A symbol synced this recently is not asked again (a warm call costs only the balance and price
# requests), unless the journal shows this server sent something for it since.
SYNC_FRESH_S = 30.0
JOURNAL_ENTRIES = 5000
LEDGERS_KEPT = 8
TOOL = Tool(
    name=GET_PORTFOLIO,
    title="Portfolio",
    description="Holdings, value, cost basis (average or FIFO), P&L, fees and coverage from the account's trades.",
    input_schema={
        "type": "object",
        "properties": {
            "account": {"type": "string"},
            "quote": {"type": "string", "description": "Default USDT"},
            "method": {"type": "string", "enum": list(METHODS)},
            "since": {"type": "string", "description": "Realised P&L from, ISO UTC"},
            "until": {"type": "string"},
            "symbols": {"type": "array", "items": {"type": "string"}, "description": "More symbols to sync"},
        },
        "additionalProperties": False,
    },
    output_schema=OUTPUT_SCHEMA,
    annotations=ToolAnnotations(read_only_hint=True),
)
TOOLS = (TOOL,)
T = TypeVar("T")
NAMES = frozenset({GET_PORTFOLIO})
PLACEMENTS = {GET_PORTFOLIO: "account"}  # its toolset (SKILL.md's Toolsets table may name it too)


def identity_of(account: Account) -> str:
    """Whose history: the environment and a one-way digest of the API key (never the key)."""
    return f"{account.environment}:{account.api_key_fingerprint}"


def parse_time(raw: Any, name: str) -> int | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ToolInputError(f"{name} must be an ISO date such as 2026-01-31", parameter=name)
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ToolInputError(f"{name} must be an ISO date such as 2026-01-31 or 2026-01-31T12:00:00Z", parameter=name) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class Request:
    account: str | None
    quote: str
    method: str
    period: Period
    symbols: tuple[str, ...]


def parse_request(arguments: Mapping[str, Any] | None) -> Request:
    args = dict(arguments or {})
    unknown = sorted(set(args) - set(TOOL.input_schema["properties"]))
    if unknown:
        raise ToolInputError(f"unknown parameter(s) {', '.join(unknown)} for {GET_PORTFOLIO}", parameter=unknown[0])
    quote = args.get("quote", "USDT")
    if not isinstance(quote, str) or not quote.isalnum() or len(quote) > 20:
        raise ToolInputError("quote must be an asset such as USDT", parameter="quote")
    method = args.get("method", AVERAGE)
    if method not in METHODS:
        raise ToolInputError(f"method must be one of {', '.join(METHODS)}", parameter="method")
    symbols = args.get("symbols", [])
    if not isinstance(symbols, list) or not all(isinstance(s, str) and is_symbol(s) for s in symbols):
        raise ToolInputError("symbols must be a list of symbols such as BTCUSDT", parameter="symbols")
    account = args.get("account")
    if account is not None and not isinstance(account, str):
        raise ToolInputError("account must be a name", parameter="account")
    period = Period(parse_time(args.get("since"), "since"), parse_time(args.get("until"), "until"))
    return Request(account, quote.upper(), method, period, tuple(symbols))


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.isoformat(timespec="seconds" if ms % 1000 == 0 else "milliseconds").replace("+00:00", "Z")


class PortfolioTools:
    """The handler of ``get_portfolio``, sharing the runtime's accounts, client and catalog."""

    def __init__(
        self, *, accounts: AccountStore, client: BinanceClient, catalog: Catalog, redactor: Redactor,
        journal: Journal, state_dir: Path, extra_symbols: Sequence[str] = (),
    ) -> None:
        self.accounts, self.client, self.catalog, self.redactor = accounts, client, catalog, redactor
        self.journal, self.state_dir = journal, state_dir
        self.extra_symbols = frozenset(extra_symbols)  # the operator's list ($BINANCE_SPOT_MCP_PORTFOLIO_SYMBOLS)
        self._cache: TradeCache | None = None
        self._markets: dict[str, tuple[float, Mapping[str, Any]]] = {}
        self.sync_share: float | None = None  # None: sync.DEFAULT_SHARE
        self.sync_fresh_s = SYNC_FRESH_S
        # The history as last read (per account identity, with the store's stamp), and the ledgers
        # replayed from it: a warm call reads and replays nothing again.
        self._history: dict[str, tuple[tuple[int, int], list[Fill]]] = {}
        self._ledgers: dict[tuple[Any, ...], Ledger] = {}

    async def cache(self) -> TradeCache:
        if self._cache is None:
            store = await _run_blocking(lambda: open_store(self.state_dir))
            self._cache = await store.run(lambda: TradeCache(store))
        return self._cache

    def trade_sync(self, cache: TradeCache) -> TradeSync:
        endpoint = self.catalog.get("get_my_trades")
        assert endpoint is not None
        return TradeSync(self.client, endpoint, cache) if self.sync_share is None else TradeSync(
            self.client, endpoint, cache, share=self.sync_share)

    async def call(self, name: str, arguments: Mapping[str, Any] | None, *, progress: Progress | None = None) -> CallToolResult:
        try:
            request = parse_request(arguments)
            account = self.accounts.resolve(request.account)
            result = await self.portfolio(account, request, progress)
        except BinanceSpotError as exc:
            return failure(exc, redactor=self.redactor)
        data = visible(self.redactor.redact_data(result))  # one redaction, then the escaping
        text = self.redactor.redact(text_table(data))
        return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)

    async def _get(self, tool: str, params: Sequence[tuple[str, str]], account: Account | None, base_url: str) -> Any:
        endpoint = self.catalog.get(tool)
        assert endpoint is not None
        return (await self.client.call(endpoint, params, base_url=base_url, account=account)).data

    async def market(self, base_url: str) -> Market:
        cached = self._markets.get(base_url)
        if cached is None or time.monotonic() - cached[0] > MARKET_TTL_S:
            info = await self._get("get_exchange_info", [], None, base_url)
            cached = (time.monotonic(), info if isinstance(info, dict) else {})
            self._markets[base_url] = cached
        tickers = await self._get("get_ticker_price", [], None, base_url)
        return market_from(cached[1], tickers if isinstance(tickers, list) else [])

    async def portfolio(self, account: Account, request: Request, progress: Progress | None) -> dict[str, Any]:
        cache = await self.cache()
        identity = identity_of(account)
        raw = await self._get("get_account", [("omitZeroBalances", "true")], account, account.base_url)
        holdings = holdings_from(raw)
        market = await self.market(account.base_url)
        priced_at = _iso(int(time.time() * 1000))
        traded = await cache.store.run(lambda: cache.traded_symbols(identity))
        journaled = await _run_blocking(lambda: journal_symbols(self.journal, account.name))
        candidates = candidate_symbols(market, holdings, traded | set(journaled) | set(request.symbols) | self.extra_symbols)
        due = await self.due(cache, identity, candidates, journaled)
        report = await self.trade_sync(cache).run(account, identity, due, progress)
        stamp, fills = await self.fills(cache, identity)
        rates = await self.rates_at(market, fills, request.quote, account.base_url, cache)
        key = (identity, stamp, request.quote, request.method, request.period, tuple(sorted(rates.items())))
        ledger = self._ledgers.get(key)
        if ledger is None:
            ledger = replay(
                fills, valuation=request.quote, method=request.method, period=request.period,
                value_at=lambda asset, t: rates.get((asset, minute_of(t))),
            )
            if len(self._ledgers) >= LEDGERS_KEPT:
                self._ledgers.pop(next(iter(self._ledgers)))
            self._ledgers[key] = ledger
        prices = {h.asset: price_of(market, h.asset, request.quote) for h in holdings}
        sync = {"symbols": report.symbols, "fresh": len(candidates) - len(due), "requests": report.requests,
                "new_trades": report.new_trades, "trades": len(fills), "skipped": report.skipped}
        period = {"from": _iso(request.period.start_ms), "to": _iso(request.period.end_ms)}
        return build(account=account.name, ledger=ledger, holdings=holdings, prices=prices, priced_at=priced_at or "",
                     period=period, sync=sync)

    async def fills(self, cache: TradeCache, identity: str) -> tuple[tuple[int, int], list[Fill]]:
        """The account's cached trades, read again only when the store's stamp changed."""
        stamp = await cache.store.run(lambda: cache.stamp(identity))
        kept = self._history.get(identity)
        if kept is not None and kept[0] == stamp:
            return kept
        fills = await cache.store.run(lambda: cache.fills(identity))
        self._history[identity] = (stamp, fills)
        return stamp, fills

    async def due(
        self, cache: TradeCache, identity: str, candidates: Sequence[Candidate], journaled: Mapping[str, int]
    ) -> list[Candidate]:
        """The candidates to sync now: all but those synced within ``sync_fresh_s`` with nothing
        journaled for them since."""
        checkpoints = await cache.store.run(lambda: cache.checkpoints(identity))
        now_ms = int(time.time() * 1000)
        fresh_ms = int(self.sync_fresh_s * 1000)

        def fresh(c: Candidate) -> bool:
            point = checkpoints.get(c.symbol)
            return point is not None and now_ms - point.synced_at_ms < fresh_ms and journaled.get(c.symbol, 0) < point.synced_at_ms

        return [c for c in candidates if not fresh(c)]

    async def history(
        self, account_name: str | None, *, symbols: Sequence[str] = (), since_ms: int | None = None,
        progress: Progress | None = None,
    ) -> tuple[Account, list[Fill]]:
        """The account's trades, synced first (``export trades``): of ``symbols`` if named, else of
        every candidate symbol, from ``since_ms`` on."""
        account = self.accounts.resolve(account_name)
        cache = await self.cache()
        identity = identity_of(account)
        market = await self.market(account.base_url)
        unknown = [s for s in symbols if s not in market.pairs]
        if unknown:
            raise ToolInputError(f"unknown or not trading symbol(s): {', '.join(unknown)}", parameter="symbols")
        if symbols:
            candidates = [Candidate(s, *market.pairs[s]) for s in sorted(set(symbols))]
        else:
            raw = await self._get("get_account", [("omitZeroBalances", "true")], account, account.base_url)
            traded = await cache.store.run(lambda: cache.traded_symbols(identity))
            journaled = await _run_blocking(lambda: journal_symbols(self.journal, account.name))
            candidates = candidate_symbols(market, holdings_from(raw), traded | set(journaled) | self.extra_symbols)
        await self.trade_sync(cache).run(account, identity, candidates, progress)
        wanted = [c.symbol for c in candidates] if symbols else None
        fills = await cache.store.run(lambda: cache.fills(identity, symbols=wanted, since_ms=since_ms))
        return account, fills

    async def rates_at(
        self, market: Market, fills: Sequence[Fill], valuation: str, base_url: str, cache: TradeCache
    ) -> dict[tuple[str, int], Decimal]:
        """One unit of an asset in ``valuation`` at the minutes the trades need (cached klines)."""
        wanted: dict[tuple[str, int], tuple[str, bool]] = {}
        for f in fills:
            for asset in needed_assets(f, valuation):
                pair = rate_symbol(market, asset, valuation)
                if pair is not None:
                    wanted[(asset, minute_of(f.time_ms))] = pair
        keys = {(pair[0], key[1]): key for key, pair in wanted.items()}
        known = await cache.store.run(lambda: cache.rates(keys))
        out: dict[tuple[str, int], Decimal] = {}
        klines = self.catalog.get("get_klines")
        assert klines is not None
        sync = self.trade_sync(cache)  # the klines keep to the sync's share of the weight budget too
        for (symbol, minute), key in keys.items():
            price = known.get((symbol, minute))
            if price is None:
                params = [("symbol", symbol), ("interval", "1m"), ("startTime", str(minute)), ("limit", "1")]
                await sync.within_share(base_url, klines.weight_for(params))
                rows = await self._get("get_klines", params, None, base_url)
                price = to_decimal(rows[0][4]) if isinstance(rows, list) and rows and isinstance(rows[0], list) else None
                if price is None or price <= 0:
                    continue
                if minute + 60_000 <= time.time() * 1000:  # a closed minute never changes
                    await cache.store.run(lambda s=symbol, m=minute, p=price: cache.save_rate(s, m, p))
            with localcontext(PRECISION):
                out[key] = Decimal(1) / price if wanted[key][1] else price
        return out


def needed_assets(fill: Fill, valuation: str) -> list[str]:
    """The assets of a trade whose value in ``valuation`` at its time the arithmetic needs."""
    needed = [] if fill.quote == valuation else [fill.quote]
    if fill.commission > 0 and fill.commission_asset not in (fill.base, fill.quote, valuation):
        needed.append(fill.commission_asset)
    return needed


def holdings_from(raw: Any) -> list[Holding]:
    balances = raw.get("balances") if isinstance(raw, dict) else None
    out = []
    for b in balances if isinstance(balances, list) else []:
        if not isinstance(b, dict) or not isinstance(b.get("asset"), str):
            continue
        free, locked = to_decimal(b.get("free")), to_decimal(b.get("locked"))
        if free is None or locked is None or free + locked <= 0:
            continue
        out.append(Holding(b["asset"], free, locked))
    return out


def candidate_symbols(market: Market, holdings: Sequence[Holding], extra: set[str]) -> list[Candidate]:
    """Held assets against every quote asset Binance lists, plus the symbols named elsewhere."""
    held = {h.asset for h in holdings}
    chosen: set[str] = set()
    for asset in held:
        for quote in market.quotes():
            symbol = market.symbol_for(asset, quote)
            if symbol is not None:
                chosen.add(symbol)
    chosen |= {s for s in extra if s in market.pairs}
    return [Candidate(s, *market.pairs[s]) for s in sorted(chosen)]


def journal_symbols(journal: Journal, account: str) -> dict[str, int]:
    """Symbols this account's journaled requests named (an asset sold off is still found), each
    with the time (ms) of its latest entry."""
    found: dict[str, int] = {}
    for entry in journal.latest(JOURNAL_ENTRIES):
        params = entry.get("params")
        if entry.get("account") == account and isinstance(params, dict) and isinstance(params.get("symbol"), str):
            found[params["symbol"]] = max(found.get(params["symbol"], 0), _stamp_ms(entry.get("ts")))
    return found


def _stamp_ms(raw: Any) -> int:
    try:
        return int(datetime.fromisoformat(str(raw).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0


async def _run_blocking(fn: Callable[[], T]) -> T:
    return await anyio.to_thread.run_sync(fn)


def progress_reporter(ctx: Any) -> Progress | None:
    """Progress notifications for this request (the SDK sends nothing where the client sent no
    progress token)."""
    session = getattr(ctx, "session", None)
    if session is None or not hasattr(session, "report_progress"):
        return None

    async def report(done: float, total: float | None, message: str) -> None:
        await session.report_progress(done, total, message)

    return report
