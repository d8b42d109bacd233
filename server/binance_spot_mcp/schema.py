"""JSON Schemas for the tools, argument validation, and conversion to Binance's wire values.

``tool_schema`` builds a tool's input schema from its catalog entry. ``prepare_arguments``
checks a call's arguments (the SDK's low-level server does not) and returns the parameters
to send, each already a string the way Binance wants it:

* decimals accept a JSON string or number and become plain decimal strings (``0.00001``,
  never ``1e-05``); a JSON number is read through its shortest repr, never through float maths;
* integers become base-10 strings, booleans ``true``/``false``;
* ``string[]`` values become compact JSON arrays (``["BTCUSDT","ETHUSDT"]``), which is how
  Binance takes ``symbols`` and ``permissions``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from binance_spot_mcp.catalog import Endpoint, Param, ParamType, RuleKind
from binance_spot_mcp.errors import ToolInputError

ACCOUNT_ARG = "account"
ENVIRONMENT_ARG = "environment"
CONFIRM_ARG = "confirm"
TOKEN_ARG = "confirmation_token"
ENVIRONMENTS = ("mainnet", "testnet", "demo")
DECIMAL_PATTERN = r"^\s*\+?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"
_DECIMAL_RE = re.compile(DECIMAL_PATTERN)
MAX_DECIMAL_DIGITS = 40


@dataclass(frozen=True)
class PreparedCall:
    """A validated call: which account/environment was asked for, and the wire parameters."""

    account: str | None
    environment: str | None
    params: tuple[tuple[str, str], ...]
    confirm: str | None = None
    confirmation_token: str | None = None

    def as_dict(self) -> dict[str, str]:
        return dict(self.params)


# ---------------------------------------------------------------------------------------------
# schemas


def _param_schema(param: Param) -> dict[str, Any]:
    c = param.constraints
    schema: dict[str, Any]
    if param.type is ParamType.STRING:
        schema = {"type": "string"}
        if c.min_length is not None:
            schema["minLength"] = c.min_length
        if c.max_length is not None:
            schema["maxLength"] = c.max_length
    elif param.type in (ParamType.DECIMAL, ParamType.INTEGER):
        if param.type is ParamType.DECIMAL:
            # Advertised as a string (what Binance wants); a JSON number is still accepted, and
            # the decimal pattern is checked in prepare_arguments rather than repeated in every schema.
            # JSON Schema's minimum/maximum do not apply to strings, so the range (checked in
            # prepare_arguments all the same) is not advertised: it would only cost context.
            schema = {"type": "string"}
        else:
            schema = {"type": "integer"}
            for key, bound in (("minimum", c.minimum), ("maximum", c.maximum)):
                if bound is not None:
                    schema[key] = _json_number(bound)
    elif param.type is ParamType.BOOLEAN:
        schema = {"type": "boolean"}
    elif param.type is ParamType.ENUM:
        schema = {"type": "string", "enum": list(param.values)}
    else:
        schema = {"type": "array", "items": {"type": "string"}, "minItems": 1}
        if c.max_items is not None:
            schema["maxItems"] = c.max_items
    if param.description:
        schema["description"] = param.description
    return schema


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def tool_schema(endpoint: Endpoint) -> dict[str, Any]:
    """The JSON Schema of one tool's arguments."""
    properties = {name: _param_schema(param) for name, param in endpoint.params.items()}
    if endpoint.signed:
        properties[ACCOUNT_ARG] = {"type": "string", "description": "Default: main"}
    else:
        properties[ACCOUNT_ARG] = {"type": "string", "description": "Use its environment"}
        # no description: the enum says it, and SKILL.md gives the default (the only account's, else mainnet)
        properties[ENVIRONMENT_ARG] = {"type": "string", "enum": list(ENVIRONMENTS)}
    if endpoint.changes_state:
        # Only for hosts that cannot show the CONFIRM form; the preview explains the flow.
        properties[CONFIRM_ARG] = {"type": "string", "description": "CONFIRM, typed by the human"}
        properties[TOKEN_ARG] = {"type": "string", "description": "From the preview"}
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if endpoint.required:
        schema["required"] = list(endpoint.required)
    return schema


# ---------------------------------------------------------------------------------------------
# validation and wire values


def shown(value: Any) -> str:
    """A caller's bad value, quoted and cut short: enough to recognise, too short to leak a key."""
    text = str(value)
    return repr(text if len(text) <= 16 else text[:12] + "...")


def plain_decimal(value: Decimal) -> str:
    """Format a finite Decimal without exponent: Decimal('1E-5') -> '0.00001'."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _to_decimal(name: str, raw: Any) -> Decimal:
    if isinstance(raw, bool):
        raise ToolInputError(f"'{name}' must be a decimal number, not a boolean", parameter=name)
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        # repr() is the shortest text that reads back as the same float: what the caller wrote.
        text = repr(raw)
    elif isinstance(raw, str):
        text = raw
    else:
        raise ToolInputError(f"'{name}' must be a decimal given as a string such as \"0.01\"", parameter=name)
    if not _DECIMAL_RE.match(text):
        raise ToolInputError(
            f"'{name}' must be a non-negative decimal such as \"0.001\"; got {shown(text)}", parameter=name
        )
    try:
        value = Decimal(text.strip())
    except InvalidOperation:  # pragma: no cover - the pattern already excludes these
        raise ToolInputError(f"'{name}' is not a decimal number", parameter=name) from None
    if not value.is_finite() or len(plain_decimal(value).replace(".", "")) > MAX_DECIMAL_DIGITS:
        raise ToolInputError(f"'{name}' has too many digits", parameter=name)
    return value


def _check_range(param: Param, value: Decimal) -> None:
    c = param.constraints
    low, high = c.minimum, c.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            allowed = f"between {plain_decimal(low)} and {plain_decimal(high)}"
        elif low is not None:
            allowed = f"at least {plain_decimal(low)}"
        else:
            allowed = f"at most {plain_decimal(high)}"  # type: ignore[arg-type]
        raise ToolInputError(
            f"'{param.name}' must be {allowed}; got {plain_decimal(value)}", parameter=param.name
        )


def to_wire(param: Param, raw: Any) -> str:
    """Check one argument against its parameter and return Binance's string for it."""
    name = param.name
    if param.type is ParamType.DECIMAL:
        value = _to_decimal(name, raw)
        _check_range(param, value)
        return plain_decimal(value)
    if param.type is ParamType.INTEGER:
        if isinstance(raw, bool) or not (
            isinstance(raw, int) or (isinstance(raw, float) and raw.is_integer())
        ):
            raise ToolInputError(f"'{name}' must be a whole number; got {shown(raw)}", parameter=name)
        integer = int(raw)
        _check_range(param, Decimal(integer))
        return str(integer)
    if param.type is ParamType.BOOLEAN:
        if not isinstance(raw, bool):
            raise ToolInputError(f"'{name}' must be true or false", parameter=name)
        return "true" if raw else "false"
    if param.type is ParamType.ENUM:
        if raw not in param.values:
            allowed = ", ".join(param.values)
            raise ToolInputError(
                f"'{name}' must be one of {allowed}; got {shown(raw)}", parameter=name
            )
        return str(raw)
    if param.type is ParamType.STRING_ARRAY:
        if not isinstance(raw, list) or not raw or not all(isinstance(v, str) and v for v in raw):
            raise ToolInputError(f"'{name}' must be a non-empty list of strings", parameter=name)
        limit = param.constraints.max_items
        if limit is not None and len(raw) > limit:
            raise ToolInputError(f"'{name}' takes at most {limit} items; got {len(raw)}", parameter=name)
        return json.dumps(raw, separators=(",", ":"), ensure_ascii=False)
    if not isinstance(raw, str) or not raw:
        raise ToolInputError(f"'{name}' must be a non-empty string", parameter=name)
    c = param.constraints
    if c.max_length is not None and len(raw) > c.max_length:
        raise ToolInputError(f"'{name}' is at most {c.max_length} characters; got {len(raw)}", parameter=name)
    if c.min_length is not None and len(raw) < c.min_length:
        raise ToolInputError(f"'{name}' is at least {c.min_length} characters; got {len(raw)}", parameter=name)
    return raw


def prepare_arguments(endpoint: Endpoint, arguments: Mapping[str, Any] | None) -> PreparedCall:
    """Validate a call's arguments and convert them; raise ``ToolInputError`` on the first problem."""
    args = dict(arguments or {})
    account = args.pop(ACCOUNT_ARG, None)
    if account is not None and (not isinstance(account, str) or not account.strip()):
        raise ToolInputError("'account' must be an account name from TOOLS.md", parameter=ACCOUNT_ARG)
    confirm = token = None
    if endpoint.changes_state:
        confirm, token = args.pop(CONFIRM_ARG, None), args.pop(TOKEN_ARG, None)
        for name, value in ((CONFIRM_ARG, confirm), (TOKEN_ARG, token)):
            if value is not None and not isinstance(value, str):
                raise ToolInputError(f"'{name}' must be a string", parameter=name)
    environment = None
    if not endpoint.signed:
        environment = args.pop(ENVIRONMENT_ARG, None)
        if environment is not None and environment not in ENVIRONMENTS:
            raise ToolInputError(
                f"'environment' must be one of {', '.join(ENVIRONMENTS)}", parameter=ENVIRONMENT_ARG
            )
        if environment is not None and account is not None:
            raise ToolInputError(
                "give either 'account' or 'environment', not both", parameter=ENVIRONMENT_ARG
            )
    unknown = sorted(k for k in args if k not in endpoint.params)
    if unknown:
        known = ", ".join(endpoint.params) or "none"
        raise ToolInputError(
            f"unknown parameter(s) {', '.join(unknown)} for {endpoint.tool}; it takes: {known}",
            parameter=unknown[0],
        )
    present = {k for k, v in args.items() if v is not None}
    missing = [name for name in endpoint.required if name not in present]
    if missing:
        raise ToolInputError(
            f"missing required parameter(s): {', '.join(missing)}", parameter=missing[0]
        )
    for rule in endpoint.rules:
        count = sum(1 for name in rule.params if name in present)
        broken = (
            (rule.kind is RuleKind.AT_LEAST_ONE and count < 1)
            or (rule.kind is RuleKind.AT_MOST_ONE and count > 1)
            or (rule.kind is RuleKind.EXACTLY_ONE and count != 1)
        )
        if broken:
            raise ToolInputError(f"{endpoint.tool} needs {rule.describe()}", parameter=rule.params[0])
    wire = tuple(
        (name, to_wire(param, args[name])) for name, param in endpoint.params.items() if name in present
    )
    return PreparedCall(
        account=account.strip() if account else None,
        environment=environment,
        params=wire,
        confirm=confirm,
        confirmation_token=token,
    )
