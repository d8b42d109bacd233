"""Helpers for the paper tests: a TOOLS.md with paper accounts, and a second (real) account on the
fake exchange whose REST orders make the market trade."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx


def write_paper_tools(directory: Path, base_url: str, *entries: str) -> Path:
    """A TOOLS.md whose accounts are the given blocks (default: one paper account 'main')."""
    blocks = entries or (f"### main\n- Environment: paper\n- Base URL: {base_url}\n- Paper Balances: 10000 USDT, 1 BTC\n",)
    path = directory / "TOOLS.md"
    path.write_text("## Binance Accounts\n\n" + "\n".join(blocks))
    os.chmod(path, 0o600)
    return path


class Trader:
    """A real account on the fake: its signed REST orders are the market the paper desk watches."""

    def __init__(self, fake: Any, usdt: str = "10000000", btc: str = "1000") -> None:
        self.fake = fake
        self.api_key, self.secret = secrets.token_hex(32), secrets.token_hex(32)
        fake.exchange.add_account(self.api_key, hmac_secret=self.secret)
        account = fake.exchange.account_for(self.api_key)
        with fake.exchange.lock:
            account.balances["USDT"] = [Decimal(usdt), Decimal(0)]
            account.balances["BTC"] = [Decimal(btc), Decimal(0)]

    def order(self, **params: str) -> Any:
        query = urlencode({**params, "timestamp": str(int(time.time() * 1000))})
        signature = hmac.new(self.secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        reply = httpx.post(f"{self.fake.base_url}/api/v3/order", content=f"{query}&signature={signature}",
                           headers={"X-MBX-APIKEY": self.api_key, "Content-Type": "application/x-www-form-urlencoded"})
        assert reply.status_code == 200, reply.text
        return reply.json()


def signed_requests(fake: Any) -> list[Any]:
    """Every request the fake saw that carried a key or a signature."""
    with fake.exchange.lock:
        return [r for r in fake.exchange.requests
                if "signature" in (r.query + r.body) or any(h.lower() == "x-mbx-apikey" for h in r.headers)]


def result(call: Any) -> Any:
    assert call.content and call.content[0].type == "text", call
    return json.loads(call.content[0].text)
