"""Raw request parameter parsing and validation against an :class:`Endpoint`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import unquote_plus

from .endpoints import ARRAY, BOOLEAN, DECIMAL, ENUM, INT, LONG, Endpoint
from .errors import ApiError, either, illegal, mandatory

_INT_RE = re.compile(r"^-?[0-9]{1,20}$")
_DEC_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_SYMBOLS_LEGAL = r'^\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\]$'
_SIGNING_PARAMS = frozenset({"timestamp", "signature", "recvWindow"})
# Client order ids (newClientOrderId, listClientOrderId, aboveClientOrderId, ...): Binance's rule.
_CLIENT_ID_SUFFIX = "ClientOrderId"
_CLIENT_ID_LEGAL = r"^[\.A-Z\:/a-z0-9_-]{1,36}$"
_CLIENT_ID_RE = re.compile(_CLIENT_ID_LEGAL)

# Documented dedicated error codes for bad enum values.
_ENUM_ERRORS: dict[str, tuple[int, str]] = {
    "side": (-1117, "Invalid side."),
    "type": (-1116, "Invalid orderType."),
    "timeInForce": (-1115, "Invalid timeInForce."),
    "interval": (-1120, "Invalid interval."),
    "symbolStatus": (-1122, "Invalid symbolStatus."),
    "cancelRestrictions": (-1145, "Invalid cancelRestrictions"),
    "pegPriceType": (-1210, "Invalid pegPriceType."),
    "pegOffsetType": (-1211, "Invalid pegOffsetType."),
}


@dataclass
class RawRequest:
    """The bytes a client actually sent, split into the two parameter sources."""

    method: str
    path: str
    query: bytes
    body: bytes
    headers: dict[str, str]
    client: str = "127.0.0.1"  # client IP (rate limits are per IP)


def split_pairs(raw: bytes) -> list[tuple[str, str]]:
    """Decode ``a=1&b=2`` into ordered (name, value) pairs (form/percent decoding)."""
    pairs: list[tuple[str, str]] = []
    if not raw:
        return pairs
    for part in raw.split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        pairs.append((unquote_plus(name.decode("latin-1"), encoding="utf-8"),
                      unquote_plus(value.decode("latin-1"), encoding="utf-8")))
    return pairs


def merged_params(req: RawRequest) -> dict[str, str]:
    """Merge query and (form) body parameters; the query string wins on conflicts."""
    query = _no_duplicates(split_pairs(req.query))
    body: dict[str, str] = {}
    if req.method != "GET" and req.body:
        ctype = req.headers.get("content-type", "")
        if ctype and "application/x-www-form-urlencoded" not in ctype:
            raise ApiError(-1100, "Illegal characters found in a parameter.")
        body = _no_duplicates(split_pairs(req.body))
    merged = dict(body)
    merged.update(query)
    return merged


def _no_duplicates(pairs: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in pairs:
        if name in out:
            raise ApiError(-1101, "Duplicate values for a parameter detected.")
        out[name] = value
    return out


def validate(endpoint: Endpoint, raw: dict[str, str]) -> dict[str, Any]:
    """Check names, presence, types and enums; return typed values (documented params only)."""
    allowed = endpoint.all_params | (_SIGNING_PARAMS if endpoint.signed else frozenset())
    unknown = [name for name in raw if name not in allowed]
    if unknown:
        read = len(raw) - len(unknown)
        raise ApiError(
            -1104, f"Not all sent parameters were read; read '{read}' parameter(s) but was sent '{len(raw)}'."
        )
    for name in sorted(endpoint.required):
        if raw.get(name, "") == "":
            raise mandatory(name)
    for group in endpoint.one_of:
        if not any(raw.get(name) for name in group):
            a, b = sorted(group)
            raise either(a, b)
    typed: dict[str, Any] = {}
    for name, value in raw.items():
        if name in _SIGNING_PARAMS and name not in endpoint.all_params:
            continue
        if value == "":
            raise ApiError(-1105, f"Parameter '{name}' was empty.")
        typed[name] = convert(endpoint, name, value)
    return typed


def convert(endpoint: Endpoint, name: str, value: str) -> Any:
    """Convert one value according to the transcribed type."""
    ptype = endpoint.param_types.get(name, "STRING")
    if name.endswith(_CLIENT_ID_SUFFIX) and not _CLIENT_ID_RE.match(value):
        raise illegal(name, _CLIENT_ID_LEGAL)
    if ptype in (LONG, INT):
        if not _INT_RE.match(value):
            raise illegal(name, "^[0-9]{1,20}$")
        return int(value)
    if ptype == DECIMAL:
        if not _DEC_RE.match(value):
            raise illegal(name, "^([0-9]{1,20})(\\.[0-9]{1,20})?$")
        return Decimal(value)
    if ptype == BOOLEAN:
        if value.lower() not in ("true", "false"):
            raise illegal(name, "true, false")
        return value.lower() == "true"
    if ptype == ARRAY:
        return parse_symbols(name, value)
    if ptype == ENUM:
        return check_enum(endpoint, name, value)
    return value


def parse_symbols(name: str, value: str) -> list[str]:
    """Parse a JSON-encoded array of symbols such as ``["BTCUSDT","BNBUSDT"]``."""
    try:
        items = json.loads(value)
    except ValueError as exc:
        raise illegal(name, _SYMBOLS_LEGAL) from exc
    if not isinstance(items, list) or not all(isinstance(s, str) and s for s in items):
        raise illegal(name, _SYMBOLS_LEGAL)
    if len(set(items)) != len(items):
        raise ApiError(-1151, "Symbol is present multiple times in the list.")
    return items


def check_enum(endpoint: Endpoint, name: str, value: str) -> Any:
    """Validate an enum value (``permissions`` may be a single value or a JSON array)."""
    allowed = endpoint.enums.get(name, frozenset())
    if name == "permissions":
        values = json.loads(value) if value.startswith("[") else [value]
        bad = [v for v in values if v not in allowed]
        if bad or not values:
            raise ApiError(-1130, f"Data sent for parameter '{name}' is not valid.")
        return values
    if value in allowed:
        return value
    lowered = name.lower()
    if name == "type" and "FULL" in allowed:
        raise ApiError(-1139, "Invalid ticker type.")
    if name in _ENUM_ERRORS:
        raise ApiError(*_ENUM_ERRORS[name])
    if lowered.endswith("side"):
        raise ApiError(*_ENUM_ERRORS["side"])
    if lowered.endswith("timeinforce"):
        raise ApiError(*_ENUM_ERRORS["timeInForce"])
    if lowered.endswith("pegpricetype"):
        raise ApiError(*_ENUM_ERRORS["pegPriceType"])
    if lowered.endswith("pegoffsettype"):
        raise ApiError(*_ENUM_ERRORS["pegOffsetType"])
    if name in ("aboveType", "belowType", "pendingAboveType", "pendingBelowType"):
        raise ApiError(-1158, "Order type not supported in OCO.")
    if name in ("workingType", "pendingType"):
        raise ApiError(*_ENUM_ERRORS["type"])
    raise illegal(name, ", ".join(sorted(allowed)))
