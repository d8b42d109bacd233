"""The cost-basis arithmetic alone (no I/O): figures worked out by hand in Decimal."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

import pytest

from binance_spot_mcp.portfolio.costs import AVERAGE, FIFO, Fill, Period, money, position, replay
from binance_spot_mcp.portfolio.pricing import Market, price_of

D = Decimal
CTX = Context(prec=34, rounding=ROUND_HALF_EVEN)


def fill(symbol: str, base: str, quote: str, tid: int, t: int, buyer: bool, price: str, qty: str,
         fee: str = "0", fee_asset: str | None = None) -> Fill:
    return Fill(symbol, base, quote, tid, tid, t, buyer, False, D(price), D(qty), D(price) * D(qty), D(fee),
                fee_asset or (base if buyer else quote))


def no_rates(asset: str, t: int) -> Decimal | None:
    return None


def test_a_trade_in_another_quote_is_valued_at_that_quotes_rate_then():
    """ETH bought with BTC: its cost is the BTC paid at BTC's USDT value at that minute, and the BTC
    leaves at that value too (its own realised P&L)."""
    fills = [
        fill("BTCUSDT", "BTC", "USDT", 1, 1_000, True, "50000", "1"),
        fill("ETHBTC", "ETH", "BTC", 1, 120_000, True, "0.05", "10"),  # 0.5 BTC when BTC was 60,000
    ]
    rates = {("BTC", 120_000): D("60000")}
    ledger = replay(fills, valuation="USDT", method=AVERAGE, value_at=lambda a, t: rates.get((a, t)))
    eth = position(ledger, "ETH", D("10"), D("3100"))
    btc = position(ledger, "BTC", D("0.5"), D("62000"))
    with localcontext(CTX):
        assert eth.cost == D("0.5") * 60000 and eth.unrealised == D("10") * 3100 - 30000
        assert ledger.assets["BTC"].realised == D("0.5") * 60000 - D("50000") * D("0.5") / D("1")
        assert btc.cost == D("25000") and btc.coverage == 1


def test_unknown_value_at_the_time_is_left_unexplained_never_guessed():
    fills = [fill("ETHBTC", "ETH", "BTC", 1, 60_000, True, "0.05", "10")]
    ledger = replay(fills, valuation="USDT", method=AVERAGE, value_at=no_rates)
    eth = position(ledger, "ETH", D("10"), D("3000"))
    assert eth.coverage == 0 and eth.unrealised == 0 and eth.cost == 0
    assert ledger.assets["ETH"].unvalued_trades == 1


def test_selling_more_than_the_trades_explain_realises_only_the_covered_part():
    fills = [
        fill("BTCUSDT", "BTC", "USDT", 1, 1, True, "50000", "1"),
        fill("BTCUSDT", "BTC", "USDT", 2, 2, False, "60000", "2"),  # one of them came from a deposit
    ]
    ledger = replay(fills, valuation="USDT", method=FIFO, value_at=no_rates)
    with localcontext(CTX):
        assert ledger.assets["BTC"].realised == D("120000") * 1 / 2 - 50000
    assert ledger.assets["BTC"].unexplained_disposed == 1


def test_fifo_holding_after_a_withdrawal_is_the_newest_lots():
    fills = [
        fill("BTCUSDT", "BTC", "USDT", 1, 1, True, "40000", "1"),
        fill("BTCUSDT", "BTC", "USDT", 2, 2, True, "60000", "1"),
    ]
    fifo = replay(fills, valuation="USDT", method=FIFO, value_at=no_rates)
    average = replay(fills, valuation="USDT", method=AVERAGE, value_at=no_rates)
    # 1.5 BTC held: half a coin was withdrawn (the oldest, first out)
    with localcontext(CTX):
        assert position(fifo, "BTC", D("1.5"), D("70000")).cost == D("60000") + D("40000") * D("0.5") / 1
        assert position(average, "BTC", D("1.5"), D("70000")).cost == D("100000") * D("1.5") / 2


def test_a_sale_paying_its_fee_in_the_base_disposes_of_the_fee_too():
    fills = [
        fill("BTCUSDT", "BTC", "USDT", 1, 1, True, "50000", "1"),
        fill("BTCUSDT", "BTC", "USDT", 2, 2, False, "60000", "0.5", fee="0.001", fee_asset="BTC"),
    ]
    ledger = replay(fills, valuation="USDT", method=AVERAGE, value_at=no_rates)
    with localcontext(CTX):
        fee_value = D("0.001") * 60000
        fee_cost = D("50000") * D("0.001") / 1
        sale_cost = (D("50000") - fee_cost) * D("0.5") / D("0.999")
        assert ledger.assets["BTC"].realised == (fee_value - fee_cost) + ((D("30000") - fee_value) - sale_cost)
        assert ledger.fees_value == fee_value
    assert position(ledger, "BTC", D("0.499"), D("60000")).coverage == 1


def test_the_period_picks_the_realised_pnl_not_the_cost():
    fills = [
        fill("BTCUSDT", "BTC", "USDT", 1, 1_000, True, "50000", "1"),
        fill("BTCUSDT", "BTC", "USDT", 2, 2_000, False, "60000", "0.5"),
        fill("BTCUSDT", "BTC", "USDT", 3, 3_000, False, "70000", "0.25"),
    ]
    ledger = replay(fills, valuation="USDT", method=AVERAGE, value_at=no_rates, period=Period(2_500, None))
    assert ledger.assets["BTC"].realised == D("17500") - D("12500")
    assert money(position(ledger, "BTC", D("0.25"), D("70000")).cost) == "12500.00000000"


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="average, fifo"):
        replay([], valuation="USDT", method="lifo", value_at=no_rates)


# -- pricing -------------------------------------------------------------------------------------

MARKET = Market(
    pairs={"BTCUSDT": ("BTC", "USDT"), "USDTTRY": ("USDT", "TRY"), "XYZBTC": ("XYZ", "BTC"),
           "BTCEUR": ("BTC", "EUR"), "ABCBTC": ("ABC", "BTC")},
    prices={"BTCUSDT": D("60000"), "USDTTRY": D("40"), "XYZBTC": D("0.0001"), "BTCEUR": D("55000")},
)


def test_direct_inverse_bridge_and_unpriced():
    assert price_of(MARKET, "BTC", "USDT").value == D("60000")
    with localcontext(CTX):
        assert price_of(MARKET, "TRY", "USDT").value == 1 / D("40") and price_of(MARKET, "TRY", "USDT").pairs == ("USDTTRY",)
        bridged = price_of(MARKET, "XYZ", "USDT")
        assert bridged.value == D("0.0001") * 60000 and bridged.pairs == ("XYZBTC", "BTCUSDT")
        via_inverse = price_of(MARKET, "EUR", "USDT")  # EUR -> BTC (inverse of BTCEUR) -> USDT
        assert via_inverse.value == (1 / D("55000")) * 60000 and via_inverse.pairs == ("BTCEUR", "BTCUSDT")
    assert price_of(MARKET, "ABC", "USDT").value is None  # listed but no price: unpriced, not zero
    assert price_of(MARKET, "NOPE", "USDT").value is None and price_of(MARKET, "USDT", "USDT").value == 1
