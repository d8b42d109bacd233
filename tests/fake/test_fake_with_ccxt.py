"""An independent client, ccxt, runs its Binance spot flows against the fake exchange without
errors (issue 11, item 9): the fake must behave as Binance documents, or a real client trips.

Every ccxt API base URL points at the fake on 127.0.0.1, so any call outside the fake's spot
API fails the test instead of reaching the internet.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterator

import ccxt  # in the dev extras
import pytest

from tests.fake.test_fake_exchange import register
from tests.fake_binance import RunningFake


@pytest.fixture
def binance(fake_exchange: RunningFake) -> Iterator[Any]:
    key = register(fake_exchange.exchange, "HMAC", {})
    client = ccxt.binance({
        "apiKey": key.api_key,
        "secret": key.secret,
        "enableRateLimit": False,
        "timeout": 10_000,
        "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False,
                    "defaultType": "spot"},
    })
    for name, url in list(client.urls["api"].items()):  # everything to the fake, nothing to the internet
        path = url.split("://", 1)[1].split("/", 1)[1] if "/" in url.split("://", 1)[1] else ""
        client.urls["api"][name] = f"{fake_exchange.base_url}/{path}"
    yield client
    if hasattr(client, "close"):
        client.close()


def test_market_data_flows(binance: Any, fake_exchange: RunningFake) -> None:
    markets = binance.load_markets()
    assert "BTC/USDT" in markets and markets["BTC/USDT"]["spot"] is True
    assert Decimal(str(markets["BTC/USDT"]["precision"]["amount"])) == Decimal("0.00001")
    ticker = binance.fetch_ticker("BTC/USDT")
    assert ticker["last"] > 0
    assert len(binance.fetch_tickers(["BTC/USDT", "ETH/USDT"])) == 2
    book = binance.fetch_order_book("BTC/USDT", limit=5)
    assert book["bids"] and book["asks"] and book["bids"][0][0] < book["asks"][0][0]
    since = fake_exchange.exchange.server_time_ms() - 10 * 3_600_000
    candles = binance.fetch_ohlcv("BTC/USDT", "1h", since=since, limit=3)
    assert len(candles) == 3 and candles[0][0] >= since and candles == sorted(candles)
    binance.fetch_trades("BTC/USDT", limit=5)
    assert binance.fetch_time() > 0


def test_trading_flows(binance: Any, fake_exchange: RunningFake) -> None:
    binance.load_markets()
    balance = binance.fetch_balance()
    assert balance["USDT"]["free"] > 0
    price = binance.fetch_ticker("BTC/USDT")["last"]
    resting = binance.create_order("BTC/USDT", "limit", "buy", 0.001, round(price * 0.9, 2))
    assert resting["status"] == "open" and resting["clientOrderId"]
    assert binance.fetch_order(resting["id"], "BTC/USDT")["status"] == "open"
    assert [o["id"] for o in binance.fetch_open_orders("BTC/USDT")] == [resting["id"]]
    cancelled = binance.cancel_order(resting["id"], "BTC/USDT")
    assert cancelled["status"] == "canceled"
    bought = binance.create_order("BTC/USDT", "market", "buy", 0.001)
    assert bought["status"] == "closed" and bought["filled"] == pytest.approx(0.001)
    trades = binance.fetch_my_trades("BTC/USDT")
    assert trades and trades[-1]["order"] == bought["id"]
    assert {o["id"] for o in binance.fetch_orders("BTC/USDT")} >= {resting["id"], bought["id"]}
    assert bought["id"] in {o["id"] for o in binance.fetch_closed_orders("BTC/USDT")}
    since_trades = binance.fetch_my_trades("BTC/USDT", since=trades[0]["timestamp"])
    assert since_trades
