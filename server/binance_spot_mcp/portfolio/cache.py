"""The local trade history: the account's trades, where each symbol's sync stopped, and past rates.

Tables of the ``portfolio`` component in the desk database (``store``), one database per state
directory. Trades are keyed by (account identity, symbol, trade id): the identity is the
environment and a one-way digest of the API key, so two entries for one key share a history and
nothing secret is stored. A checkpoint is the ``fromId`` the next sync of a symbol starts at; it
is written in the same transaction as the page of trades it follows, so a sync stopped at any
point resumes without a gap or a duplicate.

Blocking: call these from a worker thread (``Store.run``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from binance_spot_mcp.portfolio.costs import Fill
from binance_spot_mcp.store import Store

COMPONENT = "portfolio"
MIGRATIONS = (
    """
    CREATE TABLE portfolio_trades (
        identity TEXT NOT NULL,
        symbol TEXT NOT NULL,
        trade_id INTEGER NOT NULL,
        base TEXT NOT NULL,
        quote TEXT NOT NULL,
        order_id INTEGER NOT NULL,
        time_ms INTEGER NOT NULL,
        is_buyer INTEGER NOT NULL,
        is_maker INTEGER NOT NULL,
        price TEXT NOT NULL,
        qty TEXT NOT NULL,
        quote_qty TEXT NOT NULL,
        commission TEXT NOT NULL,
        commission_asset TEXT NOT NULL,
        PRIMARY KEY (identity, symbol, trade_id)
    );
    CREATE INDEX portfolio_trades_time ON portfolio_trades (identity, time_ms);
    CREATE TABLE portfolio_checkpoints (
        identity TEXT NOT NULL,
        symbol TEXT NOT NULL,
        next_from_id INTEGER NOT NULL,
        synced_at_ms INTEGER NOT NULL,
        PRIMARY KEY (identity, symbol)
    );
    CREATE TABLE portfolio_rates (
        symbol TEXT NOT NULL,
        minute_ms INTEGER NOT NULL,
        price TEXT NOT NULL,
        PRIMARY KEY (symbol, minute_ms)
    );
    """,
)


@dataclass(frozen=True)
class Checkpoint:
    next_from_id: int
    synced_at_ms: int


class TradeCache:
    """The portfolio tables of one desk database."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.migrate(COMPONENT, MIGRATIONS)

    def checkpoints(self, identity: str) -> dict[str, Checkpoint]:
        with self.store.read() as db:
            rows = db.execute(
                "SELECT symbol, next_from_id, synced_at_ms FROM portfolio_checkpoints WHERE identity = ?", (identity,)
            ).fetchall()
        return {r["symbol"]: Checkpoint(int(r["next_from_id"]), int(r["synced_at_ms"])) for r in rows}

    def save_page(self, identity: str, fills: Sequence[Fill], symbol: str, next_from_id: int, now_ms: int) -> None:
        """One page of trades and the checkpoint after it, in one transaction."""
        with self.store.write() as db:
            db.executemany(
                "INSERT OR REPLACE INTO portfolio_trades (identity, symbol, trade_id, base, quote, order_id, time_ms, "
                "is_buyer, is_maker, price, qty, quote_qty, commission, commission_asset) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (identity, f.symbol, f.trade_id, f.base, f.quote, f.order_id, f.time_ms, int(f.is_buyer),
                     int(f.is_maker), str(f.price), str(f.qty), str(f.quote_qty), str(f.commission), f.commission_asset)
                    for f in fills
                ],
            )
            db.execute(
                "INSERT INTO portfolio_checkpoints (identity, symbol, next_from_id, synced_at_ms) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(identity, symbol) DO UPDATE SET next_from_id = MAX(next_from_id, excluded.next_from_id), "
                "synced_at_ms = excluded.synced_at_ms",
                (identity, symbol, next_from_id, now_ms),
            )

    def fills(self, identity: str, *, symbols: Iterable[str] | None = None, since_ms: int | None = None) -> list[Fill]:
        """The cached trades, oldest first (optionally of some symbols, from a time on)."""
        query = "SELECT * FROM portfolio_trades WHERE identity = ?"
        args: list[object] = [identity]
        if since_ms is not None:
            query += " AND time_ms >= ?"
            args.append(since_ms)
        wanted = set(symbols) if symbols is not None else None
        with self.store.read() as db:
            rows = db.execute(query + " ORDER BY time_ms, symbol, trade_id", args).fetchall()
        return [_fill(r) for r in rows if wanted is None or r["symbol"] in wanted]

    def stamp(self, identity: str) -> tuple[int, int]:
        """Changes whenever the account's cached history does (any process): (trades, newest id sum)."""
        with self.store.read() as db:
            row = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(next_from_id), 0) FROM portfolio_checkpoints WHERE identity = ?", (identity,)
            ).fetchone()
            count = db.execute("SELECT COUNT(*) FROM portfolio_trades WHERE identity = ?", (identity,)).fetchone()
        return int(count[0]), int(row[1]) * 1_000_003 + int(row[0])

    def traded_symbols(self, identity: str) -> set[str]:
        with self.store.read() as db:
            rows = db.execute("SELECT DISTINCT symbol FROM portfolio_trades WHERE identity = ?", (identity,)).fetchall()
        return {r[0] for r in rows}

    def rates(self, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], Decimal]:
        wanted = set(keys)
        found: dict[tuple[str, int], Decimal] = {}
        with self.store.read() as db:
            for symbol, minute in wanted:
                row = db.execute(
                    "SELECT price FROM portfolio_rates WHERE symbol = ? AND minute_ms = ?", (symbol, minute)
                ).fetchone()
                if row is not None:
                    found[(symbol, minute)] = Decimal(row[0])
        return found

    def save_rate(self, symbol: str, minute_ms: int, price: Decimal) -> None:
        with self.store.write() as db:
            db.execute(
                "INSERT OR REPLACE INTO portfolio_rates (symbol, minute_ms, price) VALUES (?, ?, ?)",
                (symbol, minute_ms, str(price)),
            )


def _fill(r: sqlite3.Row) -> Fill:
    return Fill(
        symbol=r["symbol"], base=r["base"], quote=r["quote"], trade_id=int(r["trade_id"]),
        order_id=int(r["order_id"]), time_ms=int(r["time_ms"]), is_buyer=bool(r["is_buyer"]),
        is_maker=bool(r["is_maker"]), price=Decimal(r["price"]), qty=Decimal(r["qty"]),
        quote_qty=Decimal(r["quote_qty"]), commission=Decimal(r["commission"]),
        commission_asset=r["commission_asset"],
    )
