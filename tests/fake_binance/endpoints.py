"""Independent transcription of the Binance Spot REST endpoint tables (``/api/v3``).

Each :class:`Endpoint` records the HTTP method, full path, security type, the
documented mandatory and optional parameters (``timestamp`` and ``signature``
are excluded: the signing layer handles them), the documented base weight,
parameter types and the enum value sets the fake validates against.

Documented "either A or B must be sent" constraints are kept in ``one_of``;
both names then live in ``optional``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

# --------------------------------------------------------------------------- enums
SIDES = frozenset({"BUY", "SELL"})
ORDER_TYPES = frozenset(
    {"LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER"}
)
TIME_IN_FORCE = frozenset({"GTC", "IOC", "FOK"})
RESP_TYPES = frozenset({"ACK", "RESULT", "FULL"})
STP_MODES = frozenset({"NONE", "EXPIRE_MAKER", "EXPIRE_TAKER", "EXPIRE_BOTH", "DECREMENT", "TRANSFER"})
PEG_PRICE_TYPES = frozenset({"PRIMARY_PEG", "MARKET_PEG"})
PEG_OFFSET_TYPES = frozenset({"PRICE_LEVEL"})
SYMBOL_STATUS_FILTER = frozenset({"TRADING", "HALT", "BREAK"})
TICKER_TYPES = frozenset({"FULL", "MINI"})
KLINE_INTERVALS = frozenset(
    {"1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"}
)
CANCEL_RESTRICTIONS = frozenset({"ONLY_NEW", "ONLY_PARTIALLY_FILLED"})
CANCEL_REPLACE_MODES = frozenset({"STOP_ON_FAILURE", "ALLOW_FAILURE"})
RATE_LIMIT_EXCEEDED_MODES = frozenset({"DO_NOTHING", "CANCEL_ONLY"})
OCO_ABOVE_TYPES = frozenset({"STOP_LOSS_LIMIT", "STOP_LOSS", "LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
OCO_BELOW_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
WORKING_TYPES = frozenset({"LIMIT", "LIMIT_MAKER"})
SOR_ORDER_TYPES = frozenset({"LIMIT", "MARKET"})
PERMISSIONS = frozenset(
    {"SPOT", "MARGIN", "LEVERAGED"} | {f"TRD_GRP_{n:03d}" for n in range(2, 26)}
)
# windowSize is validated by pattern (1m..59m, 1h..23h, 1d..7d)
WINDOW_SIZES = frozenset(
    {f"{n}m" for n in range(1, 60)} | {f"{n}h" for n in range(1, 24)} | {f"{n}d" for n in range(1, 8)}
)

# Parameter types as named by the docs.
STRING, LONG, INT, DECIMAL, ENUM, BOOLEAN, ARRAY = "STRING", "LONG", "INT", "DECIMAL", "ENUM", "BOOLEAN", "ARRAY"


@dataclass(frozen=True)
class Endpoint:
    """One documented REST endpoint."""

    method: str
    path: str
    security: str
    required: frozenset[str]
    optional: frozenset[str]
    weight: int = 1
    param_types: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    enums: Mapping[str, frozenset[str]] = field(default_factory=dict, compare=False, hash=False)
    one_of: tuple[frozenset[str], ...] = ()
    order_count: int = 0

    @property
    def signed(self) -> bool:
        """True for TRADE / USER_DATA endpoints."""
        return self.security != "NONE"

    @property
    def key(self) -> tuple[str, str]:
        """Routing key (method, path)."""
        return (self.method, self.path)

    @property
    def all_params(self) -> frozenset[str]:
        """Every accepted (documented) parameter name."""
        return self.required | self.optional


def _enum_for(name: str, type_param_values: frozenset[str]) -> frozenset[str] | None:
    """Enum value set implied by a parameter name (shared across endpoints)."""
    lowered = name.lower()
    if name == "type":
        return type_param_values
    if lowered.endswith("side"):
        return SIDES
    if lowered.endswith("timeinforce"):
        return TIME_IN_FORCE
    if name == "newOrderRespType":
        return RESP_TYPES
    if name == "selfTradePreventionMode":
        return STP_MODES
    if lowered.endswith("pegpricetype"):
        return PEG_PRICE_TYPES
    if lowered.endswith("pegoffsettype"):
        return PEG_OFFSET_TYPES
    if name == "symbolStatus":
        return SYMBOL_STATUS_FILTER
    if name == "interval":
        return KLINE_INTERVALS
    if name == "windowSize":
        return WINDOW_SIZES
    if name == "cancelRestrictions":
        return CANCEL_RESTRICTIONS
    if name == "cancelReplaceMode":
        return CANCEL_REPLACE_MODES
    if name == "orderRateLimitExceededMode":
        return RATE_LIMIT_EXCEEDED_MODES
    if name in ("aboveType", "pendingAboveType"):
        return OCO_ABOVE_TYPES
    if name in ("belowType", "pendingBelowType"):
        return OCO_BELOW_TYPES
    if name == "workingType":
        return WORKING_TYPES
    if name == "pendingType":
        return ORDER_TYPES
    if name == "permissions":
        return PERMISSIONS
    return None


def _ep(
    method: str,
    path: str,
    security: str,
    spec: str,
    *,
    weight: int = 1,
    type_values: frozenset[str] = ORDER_TYPES,
    one_of: tuple[tuple[str, ...], ...] = (),
    order_count: int = 0,
) -> Endpoint:
    """Build an endpoint from a compact spec: ``name:TYPE`` tokens, ``!`` = mandatory."""
    required: set[str] = set()
    optional: set[str] = set()
    types: dict[str, str] = {}
    enums: dict[str, frozenset[str]] = {}
    for token in spec.split():
        mandatory = token.endswith("!")
        token = token.rstrip("!")
        name, _, ptype = token.partition(":")
        ptype = ptype or STRING
        (required if mandatory else optional).add(name)
        types[name] = ptype
        if ptype == ENUM or name == "permissions":
            values = _enum_for(name, type_values)
            if values is None:  # pragma: no cover - guards the transcription itself
                raise ValueError(f"no enum values known for {path}:{name}")
            enums[name] = values
    return Endpoint(
        method=method,
        path="/api/v3/" + path,
        security=security,
        required=frozenset(required),
        optional=frozenset(optional),
        weight=weight,
        param_types=MappingProxyType(types),
        enums=MappingProxyType(enums),
        one_of=tuple(frozenset(group) for group in one_of),
        order_count=order_count,
    )


RW = "recvWindow:DECIMAL"

_NEW_ORDER = (
    "symbol! side:ENUM! type:ENUM! timeInForce:ENUM quantity:DECIMAL quoteOrderQty:DECIMAL price:DECIMAL "
    "newClientOrderId strategyId:LONG strategyType:INT stopPrice:DECIMAL trailingDelta:LONG "
    "icebergQty:DECIMAL newOrderRespType:ENUM selfTradePreventionMode:ENUM pegPriceType:ENUM "
    "pegOffsetValue:INT pegOffsetType:ENUM " + RW
)

_SOR_ORDER = (
    "symbol! side:ENUM! type:ENUM! timeInForce:ENUM quantity:DECIMAL! price:DECIMAL newClientOrderId "
    "strategyId:LONG strategyType:INT icebergQty:DECIMAL newOrderRespType:ENUM "
    "selfTradePreventionMode:ENUM " + RW
)


def _leg(prefix: str, *, working: bool) -> str:
    """Shared per-leg parameters of OTO/OTOCO/OPO/OPOCO lists."""
    base = (
        f"{prefix}ClientOrderId {prefix}IcebergQty:DECIMAL {prefix}TimeInForce:ENUM "
        f"{prefix}StrategyId:LONG {prefix}StrategyType:INT {prefix}PegPriceType:ENUM "
        f"{prefix}PegOffsetType:ENUM {prefix}PegOffsetValue:INT "
    )
    if working:
        return base
    return base + f"{prefix}Price:DECIMAL {prefix}StopPrice:DECIMAL {prefix}TrailingDelta:DECIMAL "


_LIST_HEAD = "symbol! listClientOrderId newOrderRespType:ENUM selfTradePreventionMode:ENUM "
_WORKING = (
    "workingType:ENUM! workingSide:ENUM! workingPrice:DECIMAL! workingQuantity:DECIMAL! "
    + _leg("working", working=True)
)
_PENDING_SINGLE = "pendingType:ENUM! pendingSide:ENUM! " + _leg("pending", working=False)
_PENDING_PAIR = (
    "pendingSide:ENUM! pendingAboveType:ENUM! pendingBelowType:ENUM "
    + _leg("pendingAbove", working=False)
    + _leg("pendingBelow", working=False)
)

_OCO_SIDE = (
    "{p}Type:ENUM! {p}ClientOrderId {p}IcebergQty:LONG {p}Price:DECIMAL {p}StopPrice:DECIMAL "
    "{p}TrailingDelta:LONG {p}TimeInForce:ENUM {p}StrategyId:LONG {p}StrategyType:INT "
    "{p}PegPriceType:ENUM {p}PegOffsetType:ENUM {p}PegOffsetValue:INT "
)

_SYMBOLS = "symbol symbols:ARRAY"

ENDPOINTS: list[Endpoint] = [
    # ------------------------------------------------------------------ general / market data
    _ep("GET", "ping", "NONE", ""),
    _ep("GET", "time", "NONE", ""),
    _ep(
        "GET", "exchangeInfo", "NONE",
        "symbol symbols:ARRAY permissions:ENUM showPermissionSets:BOOLEAN symbolStatus:ENUM",
        weight=20,
    ),
    _ep("GET", "executionRules", "NONE", "symbol symbols:ARRAY symbolStatus:ENUM", weight=40),
    _ep("GET", "depth", "NONE", "symbol! limit:INT symbolStatus:ENUM", weight=5),
    _ep("GET", "trades", "NONE", "symbol! limit:INT", weight=25),
    _ep("GET", "historicalTrades", "NONE", "symbol! limit:INT fromId:LONG", weight=25),
    _ep("GET", "historicalBlockTrades", "NONE", "symbol! fromId:LONG! limit:LONG", weight=25),
    _ep(
        "GET", "aggTrades", "NONE",
        "symbol! fromId:LONG startTime:LONG endTime:LONG limit:INT", weight=4,
    ),
    _ep(
        "GET", "klines", "NONE",
        "symbol! interval:ENUM! startTime:LONG endTime:LONG timeZone limit:INT", weight=2,
    ),
    _ep(
        "GET", "uiKlines", "NONE",
        "symbol! interval:ENUM! startTime:LONG endTime:LONG timeZone limit:INT", weight=2,
    ),
    _ep("GET", "avgPrice", "NONE", "symbol!", weight=2),
    _ep(
        "GET", "ticker/24hr", "NONE", _SYMBOLS + " type:ENUM symbolStatus:ENUM",
        weight=2, type_values=TICKER_TYPES,
    ),
    _ep(
        "GET", "ticker/tradingDay", "NONE", _SYMBOLS + " timeZone type:ENUM symbolStatus:ENUM",
        weight=4, type_values=TICKER_TYPES, one_of=(("symbol", "symbols"),),
    ),
    _ep("GET", "ticker/price", "NONE", _SYMBOLS + " symbolStatus:ENUM", weight=2),
    _ep("GET", "ticker/bookTicker", "NONE", _SYMBOLS + " symbolStatus:ENUM", weight=2),
    _ep(
        "GET", "ticker", "NONE", _SYMBOLS + " windowSize:ENUM type:ENUM symbolStatus:ENUM",
        weight=4, type_values=TICKER_TYPES, one_of=(("symbol", "symbols"),),
    ),
    _ep("GET", "referencePrice", "NONE", "symbol!", weight=2),
    _ep("GET", "referencePrice/calculation", "NONE", "symbol! symbolStatus:ENUM", weight=2),
    # ------------------------------------------------------------------ trading
    _ep("POST", "order", "TRADE", _NEW_ORDER, order_count=1),
    _ep("POST", "order/test", "TRADE", _NEW_ORDER + " computeCommissionRates:BOOLEAN"),
    _ep(
        "DELETE", "order", "TRADE",
        "symbol! orderId:LONG origClientOrderId newClientOrderId cancelRestrictions:ENUM " + RW,
        one_of=(("orderId", "origClientOrderId"),),
    ),
    _ep("DELETE", "openOrders", "TRADE", "symbol! " + RW),
    _ep(
        "POST", "order/cancelReplace", "TRADE",
        "symbol! side:ENUM! type:ENUM! cancelReplaceMode:ENUM! timeInForce:ENUM quantity:DECIMAL "
        "quoteOrderQty:DECIMAL price:DECIMAL cancelNewClientOrderId cancelOrigClientOrderId "
        "cancelOrderId:LONG newClientOrderId strategyId:LONG strategyType:INT stopPrice:DECIMAL "
        "trailingDelta:LONG icebergQty:DECIMAL newOrderRespType:ENUM selfTradePreventionMode:ENUM "
        "cancelRestrictions:ENUM orderRateLimitExceededMode:ENUM pegPriceType:ENUM "
        "pegOffsetValue:INT pegOffsetType:ENUM " + RW,
        one_of=(("cancelOrderId", "cancelOrigClientOrderId"),), order_count=1,
    ),
    _ep(
        "PUT", "order/amend/keepPriority", "TRADE",
        "symbol! orderId:LONG origClientOrderId newClientOrderId newQty:DECIMAL! " + RW,
        weight=4, one_of=(("orderId", "origClientOrderId"),),
    ),
    _ep(
        "POST", "order/oco", "TRADE",
        "symbol! listClientOrderId side:ENUM! quantity:DECIMAL! limitClientOrderId price:DECIMAL! "
        "limitStrategyId:LONG limitStrategyType:INT limitIcebergQty:DECIMAL trailingDelta:LONG "
        "stopClientOrderId stopPrice:DECIMAL! stopStrategyId:LONG stopStrategyType:INT "
        "stopLimitPrice:DECIMAL stopIcebergQty:DECIMAL stopLimitTimeInForce:ENUM "
        "newOrderRespType:ENUM selfTradePreventionMode:ENUM " + RW,
        order_count=2,
    ),
    _ep(
        "POST", "orderList/oco", "TRADE",
        "symbol! listClientOrderId side:ENUM! quantity:DECIMAL! "
        + _OCO_SIDE.format(p="above") + _OCO_SIDE.format(p="below")
        + "newOrderRespType:ENUM selfTradePreventionMode:ENUM " + RW,
        order_count=2,
    ),
    _ep(
        "POST", "orderList/oto", "TRADE",
        _LIST_HEAD + _WORKING + _PENDING_SINGLE + "pendingQuantity:DECIMAL! " + RW, order_count=2,
    ),
    _ep(
        "POST", "orderList/otoco", "TRADE",
        _LIST_HEAD + _WORKING + _PENDING_PAIR + "pendingQuantity:DECIMAL! " + RW, order_count=3,
    ),
    _ep("POST", "orderList/opo", "TRADE", _LIST_HEAD + _WORKING + _PENDING_SINGLE + RW, order_count=2),
    _ep("POST", "orderList/opoco", "TRADE", _LIST_HEAD + _WORKING + _PENDING_PAIR + RW, order_count=3),
    _ep(
        "DELETE", "orderList", "TRADE",
        "symbol! orderListId:LONG listClientOrderId newClientOrderId " + RW,
        one_of=(("orderListId", "listClientOrderId"),),
    ),
    _ep("POST", "sor/order", "TRADE", _SOR_ORDER, type_values=SOR_ORDER_TYPES, order_count=1),
    _ep(
        "POST", "sor/order/test", "TRADE", _SOR_ORDER + " computeCommissionRates:BOOLEAN",
        type_values=SOR_ORDER_TYPES,
    ),
    # ------------------------------------------------------------------ account
    _ep("GET", "account", "USER_DATA", "omitZeroBalances:BOOLEAN " + RW, weight=20),
    _ep(
        "GET", "order", "USER_DATA", "symbol! orderId:LONG origClientOrderId " + RW,
        weight=4, one_of=(("orderId", "origClientOrderId"),),
    ),
    _ep("GET", "openOrders", "USER_DATA", "symbol " + RW, weight=6),
    _ep(
        "GET", "allOrders", "USER_DATA",
        "symbol! orderId:LONG startTime:LONG endTime:LONG limit:INT " + RW, weight=20,
    ),
    _ep(
        "GET", "orderList", "USER_DATA", "orderListId:LONG origClientOrderId " + RW,
        weight=4, one_of=(("orderListId", "origClientOrderId"),),
    ),
    _ep(
        "GET", "allOrderList", "USER_DATA",
        "fromId:LONG startTime:LONG endTime:LONG limit:INT " + RW, weight=20,
    ),
    _ep("GET", "openOrderList", "USER_DATA", RW, weight=6),
    _ep(
        "GET", "myTrades", "USER_DATA",
        "symbol! orderId:LONG startTime:LONG endTime:LONG fromId:LONG limit:INT " + RW, weight=20,
    ),
    _ep("GET", "rateLimit/order", "USER_DATA", RW, weight=40),
    _ep(
        "GET", "myPreventedMatches", "USER_DATA",
        "symbol! preventedMatchId:LONG orderId:LONG fromPreventedMatchId:LONG limit:INT " + RW,
        weight=20,
    ),
    _ep(
        "GET", "myAllocations", "USER_DATA",
        "symbol! startTime:LONG endTime:LONG fromAllocationId:INT limit:INT orderId:LONG " + RW,
        weight=20,
    ),
    # The docs list only `symbol` here (no recvWindow row).
    _ep("GET", "account/commission", "USER_DATA", "symbol!", weight=20),
    _ep(
        "GET", "order/amendments", "USER_DATA",
        "symbol! orderId:LONG! fromExecutionId:LONG limit:LONG " + RW, weight=4,
    ),
    _ep("GET", "myFilters", "USER_DATA", "symbol! " + RW, weight=40),
]

BY_ROUTE: Mapping[tuple[str, str], Endpoint] = MappingProxyType({ep.key: ep for ep in ENDPOINTS})
KNOWN_PATHS: frozenset[str] = frozenset(ep.path for ep in ENDPOINTS)

assert len(ENDPOINTS) == 48, len(ENDPOINTS)
assert len(BY_ROUTE) == 48
