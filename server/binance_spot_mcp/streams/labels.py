"""Stream events a model reads well: Binance's one-letter keys under full names.

Binance's stream payloads (web-socket-streams.md, user-data-stream.md) name their fields with one
letter whose meaning depends on the event: ``q`` is a trade's quantity but a ticker's quote
volume. ``label_event`` renames the fields of each documented event by its type (``e``; the
book ticker, which has none, by its shape), with the names Binance's REST replies use where they
have one (``price``, ``origQty``, ``executedQty``, ``status``). Fields documented as "Ignore"
are left out; a field not listed here keeps its key, so nothing Binance adds is lost.
``read_stream`` labels every event unless called with ``raw: true``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_EVENT = {"e": "eventType", "E": "eventTime", "s": "symbol"}
_IGNORED = "ignored"  # the target name of fields Binance documents as "Ignore"

_TRADE = {**_EVENT, "t": "tradeId", "p": "price", "q": "qty", "T": "tradeTime", "m": "isBuyerMaker", "M": _IGNORED}
_AGG_TRADE = {**_EVENT, "a": "aggTradeId", "p": "price", "q": "qty", "f": "firstTradeId", "l": "lastTradeId",
              "T": "tradeTime", "m": "isBuyerMaker", "M": _IGNORED}
_KLINE_BAR = {"t": "openTime", "T": "closeTime", "s": "symbol", "i": "interval", "f": "firstTradeId",
              "L": "lastTradeId", "o": "open", "c": "close", "h": "high", "l": "low", "v": "volume", "n": "trades",
              "x": "isClosed", "q": "quoteVolume", "V": "takerBuyBaseVolume", "Q": "takerBuyQuoteVolume", "B": _IGNORED}
_MINI_TICKER = {**_EVENT, "c": "lastPrice", "o": "openPrice", "h": "highPrice", "l": "lowPrice", "v": "volume",
                "q": "quoteVolume"}
_WINDOW = {"p": "priceChange", "P": "priceChangePercent", "w": "weightedAvgPrice", "c": "lastPrice",
           "o": "openPrice", "h": "highPrice", "l": "lowPrice", "v": "volume", "q": "quoteVolume", "O": "openTime",
           "C": "closeTime", "F": "firstId", "L": "lastId", "n": "count"}
_TICKER = {**_EVENT, **_WINDOW, "x": "prevClosePrice", "Q": "lastQty", "b": "bidPrice", "B": "bidQty",
           "a": "askPrice", "A": "askQty"}
_BOOK_TICKER = {"u": "updateId", "s": "symbol", "b": "bidPrice", "B": "bidQty", "a": "askPrice", "A": "askQty"}
_AVG_PRICE = {**_EVENT, "i": "interval", "w": "price", "T": "lastTradeTime"}
_DEPTH = {**_EVENT, "U": "firstUpdateId", "u": "finalUpdateId", "b": "bids", "a": "asks"}
_EXECUTION = {
    **_EVENT, "c": "clientOrderId", "S": "side", "o": "type", "f": "timeInForce", "q": "origQty", "p": "price",
    "P": "stopPrice", "F": "icebergQty", "g": "orderListId", "C": "origClientOrderId", "x": "executionType",
    "X": "status", "r": "rejectReason", "i": "orderId", "l": "lastExecutedQty", "z": "executedQty",
    "L": "lastExecutedPrice", "n": "commission", "N": "commissionAsset", "T": "transactTime", "t": "tradeId",
    "v": "preventedMatchId", "I": "executionId", "w": "isWorking", "m": "isMaker", "M": _IGNORED,
    "O": "orderCreationTime", "Z": "cummulativeQuoteQty", "Y": "lastQuoteQty", "Q": "origQuoteOrderQty",
    "W": "workingTime", "V": "selfTradePreventionMode", "d": "trailingDelta", "D": "trailingTime",
    "j": "strategyId", "J": "strategyType", "A": "preventedQty", "B": "lastPreventedQty", "u": "tradeGroupId",
    "U": "counterOrderId", "Cs": "counterSymbol", "b": "matchType", "a": "allocationId", "k": "workingFloor",
    "uu": "usedSor",
}
_LIST_STATUS = {**_EVENT, "g": "orderListId", "c": "contingencyType", "l": "listStatusType",
                "L": "listOrderStatus", "r": "listRejectReason", "C": "listClientOrderId", "T": "transactionTime",
                "O": "orders"}
_LIST_ORDER = {"s": "symbol", "i": "orderId", "c": "clientOrderId"}
_POSITION = {"e": "eventType", "E": "eventTime", "u": "lastUpdateTime", "B": "balances"}
_BALANCE = {"a": "asset", "f": "free", "l": "locked"}
_DELTA = {"e": "eventType", "E": "eventTime", "a": "asset", "d": "delta", "T": "clearTime"}
_LOCK = {"e": "eventType", "E": "eventTime", "a": "asset", "d": "delta", "T": "transactionTime"}

FIELDS: Mapping[str, Mapping[str, str]] = {
    "trade": _TRADE, "aggTrade": _AGG_TRADE, "kline": {**_EVENT, "k": "kline"},
    "24hrMiniTicker": _MINI_TICKER, "24hrTicker": _TICKER, "avgPrice": _AVG_PRICE, "depthUpdate": _DEPTH,
    "1hTicker": {**_EVENT, **_WINDOW}, "4hTicker": {**_EVENT, **_WINDOW}, "1dTicker": {**_EVENT, **_WINDOW},
    "executionReport": _EXECUTION, "listStatus": _LIST_STATUS, "outboundAccountPosition": _POSITION,
    "balanceUpdate": _DELTA, "externalLockUpdate": _LOCK,
    "eventStreamTerminated": {"e": "eventType", "E": "eventTime"},
}
_NESTED: Mapping[tuple[str, str], Mapping[str, str]] = {
    ("kline", "k"): _KLINE_BAR, ("listStatus", "O"): _LIST_ORDER, ("outboundAccountPosition", "B"): _BALANCE,
}


def _rename(data: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = names.get(key, key)
        if name != _IGNORED:
            out[name] = value
    return out


def label_event(data: Any) -> Any:
    """One stream payload with full field names (anything this module does not know: as it is)."""
    if not isinstance(data, Mapping):
        return data
    kind = data.get("e")
    if not isinstance(kind, str):
        return _rename(data, _BOOK_TICKER) if set(data) == set(_BOOK_TICKER) else data
    names = FIELDS.get(kind)
    if names is None:
        return data
    out = _rename(data, names)
    for (event, key), inner in _NESTED.items():
        if event == kind and key in data:
            value, target = data[key], names[key]
            if isinstance(value, Mapping):
                out[target] = _rename(value, inner)
            elif isinstance(value, list):
                out[target] = [_rename(v, inner) if isinstance(v, Mapping) else v for v in value]
    return out
