"""Helpers for the reviewer's paper tests (``test_paper_review*.py``): a desk on an in-process
market (``paper_stub``: bids 99 x50, asks 101 x50, a last trade at 100), an account holding
1000 USDT and 1 BTC, and calls in the desk's own terms."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.paper.desk import PaperDesk
from binance_spot_mcp.paper.settings import PaperSettings
from binance_spot_mcp.store import Store

from tests.paper.paper_stub import SYMBOL, StubAccount, StubMarket

CATALOG = load_catalog()
ACCOUNT = StubAccount(paper=PaperSettings(balances=(("USDT", D(1000)), ("BTC", D(1)))))

def _market() -> StubMarket:
    market = StubMarket()
    market.set_book([(D(99), D(50))], [(D(101), D(50))])
    market.trade(D(100), D(1), False)
    return market


def _desk(tmp_path: Path, market: StubMarket) -> PaperDesk:
    return PaperDesk(Store(tmp_path / "desk.sqlite3"), market.public, clock_ms=lambda: 1_000)


async def _call(desk: PaperDesk, tool: str, symbol: str = SYMBOL, **params: str) -> Any:
    endpoint = CATALOG.get(tool)
    assert endpoint is not None
    return await desk.handle(endpoint, [("symbol", symbol), *params.items()], ACCOUNT)


async def _balances(desk: PaperDesk) -> dict[str, tuple[D, D]]:
    account = await _call(desk, "get_account")
    return {b["asset"]: (D(b["free"]), D(b["locked"])) for b in account["balances"]}
