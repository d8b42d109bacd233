"""A quantity above a filter's maximum: the suggestion is the filter's largest order, and the hint
says so, since it is not what the account holds (a 1000 BTC sell with ~1 BTC held was offered
"100" as if it would work). Below the maximum the usual hint stays."""

from __future__ import annotations

import pytest

from binance_spot_mcp.exchange.filters import FilterRejected, check_order

LOT = {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "100", "stepSize": "0.001"}
SYMBOL = {"symbol": "BTCUSDT", "status": "TRADING", "filters": [LOT]}


def _market(side: str, quantity: str) -> dict[str, str]:
    return {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": quantity}


def test_above_the_maximum_the_hint_says_the_suggestion_is_the_filter_s_limit():
    with pytest.raises(FilterRejected) as caught:
        check_order("place_order", _market("SELL", "1000"), SYMBOL)
    assert caught.value.suggestions == ("100",)
    hint = caught.value.hint or ""
    assert "largest" in hint and "not what the account holds" in hint and "get_account" in hint


def test_off_the_step_keeps_the_usual_hint():
    with pytest.raises(FilterRejected) as caught:
        check_order("place_order", _market("SELL", "0.0015"), SYMBOL)
    assert "largest" not in (caught.value.hint or "") and caught.value.hint == FilterRejected.default_hint
