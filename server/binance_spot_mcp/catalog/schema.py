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

from binance_spot_mcp.catalog.endpoints import Endpoint
from binance_spot_mcp.catalog.model import Param, ParamType, RuleKind
from binance_spot_mcp.catalog.order_types import order_type_problems
from binance_spot_mcp.errors import ToolInputError
from binance_spot_mcp.policy import SYMBOL_MAX_CHARS, is_symbol, spelled_symbol

ACCOUNT_ARG = "account"
ENVIRONMENT_ARG = "environment"
CONFIRM_ARG = "confirm"
TOKEN_ARG = "confirmation_token"
RAW_ARG = "raw"
RAW_REPLY_TOOLS = frozenset({"get_klines", "get_ui_klines"})  # labelled replies (exchange.labels); raw: the wire shape
# The opt-in chat approval path's arguments (advertised only where the operator allowed it).
CHAT_CONFIRM_PROPERTIES: dict[str, dict[str, str]] = {
    CONFIRM_ARG: {"type": "string", "description": "CONFIRM, typed by the human"},
    TOKEN_ARG: {"type": "string", "description": "From the preview"},
}
ENVIRONMENTS = ("mainnet", "testnet", "demo")
DECIMAL_PATTERN = r"^\s*\+?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"
_DECIMAL_RE = re.compile(DECIMAL_PATTERN)
MAX_DECIMAL_DIGITS = 40
MAX_DECIMAL_CHARS = 64  # longer text is refused before it is parsed
MAX_STRING_CHARS = 1024  # any string argument without its own maxLength
MAX_LONG = 2**63 - 1  # Binance's integers are signed 64-bit (LONG)
# Binance's own character rules (its -1100 "legal range" messages), checked before anything else.
CLIENT_ID_RE = re.compile(r"^[.A-Za-z0-9:/_-]{1,36}$")
ACCOUNT_NAME_MAX = 64
_SYMBOL_PARAMS = frozenset({"symbol"})
MAX_RESPELT_ITEMS = 100  # Binance takes at most 100 symbols in one list; longer lists are refused as typed
# Binance takes UTF-8 symbols since 2025-12-02 (CHANGELOG); the characters: policy.is_symbol_char.
SYMBOL_RULE = f"1-{SYMBOL_MAX_CHARS} of A-Z, 0-9, - _ . or non-ASCII letters and digits; no spaces or invisible characters"


@dataclass(frozen=True)
class PreparedCall:
    """A validated call: which account/environment was asked for, and the wire parameters."""

    account: str | None
    environment: str | None
    params: tuple[tuple[str, str], ...]
    confirm: str | None = None
    confirmation_token: str | None = None
    respelt: tuple[tuple[str, str], ...] = ()  # (as typed, as sent) for symbols read in Binance's spelling
    raw: bool = False  # the reply as Binance sent it, not labelled

    def as_dict(self) -> dict[str, str]:
        return dict(self.params)

    def with_spelling(self, data: Any) -> Any:
        """The reply, with the symbols used stated above it when they were typed another way."""
        if not self.respelt:
            return data
        said = "; ".join(f"'{typed}' was read as {used}" for typed, used in self.respelt)
        used = self.respelt[0][1] if len(self.respelt) == 1 else [u for _, u in self.respelt]
        return {"note": f"Symbol {said} (Binance's spelling).", "symbolUsed": used, "result": data}


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
    elif param.type is ParamType.DECIMAL:
        # Advertised as a string (what Binance wants); a JSON number is still accepted, and the
        # decimal pattern and range are checked in prepare_arguments. JSON Schema's minimum and
        # maximum only apply to numbers, so a string schema carries none (the local check names
        # the range when a value is outside it).
        schema = {"type": "string"}
    elif param.type is ParamType.INTEGER:
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


def tool_schema(endpoint: Endpoint, *, chat_confirm: bool = False) -> dict[str, Any]:
    """The JSON Schema of one tool's arguments. ``chat_confirm``: the operator allowed the chat
    approval path, so state-changing tools also advertise ``confirm`` and ``confirmation_token``
    (they are accepted either way; the preview that asks for them says how to use them)."""
    properties = {name: _param_schema(param) for name, param in endpoint.params.items()}
    if endpoint.signed:
        # The default (main, else the only account) is in the server instructions: saves ~900 chars.
        properties[ACCOUNT_ARG] = {"type": "string"}
    else:
        properties[ACCOUNT_ARG] = {"type": "string", "description": "Default main"}
        # no description: the enum says it, and SKILL.md gives the default (main's, the only account's, else mainnet)
        properties[ENVIRONMENT_ARG] = {"type": "string", "enum": list(ENVIRONMENTS)}
    if endpoint.tool in RAW_REPLY_TOOLS:
        properties[RAW_ARG] = {"type": "boolean"}  # no description: SKILL.md's guide says it
    if endpoint.changes_state and chat_confirm:
        properties.update(CHAT_CONFIRM_PROPERTIES)
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if endpoint.required:
        schema["required"] = list(endpoint.required)
    return schema


# ---------------------------------------------------------------------------------------------
# validation and wire values


def shown(value: Any) -> str:
    """A caller's bad value, quoted and cut short: enough to recognise, too short to leak a key."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool | float) or (isinstance(value, int) and abs(value) < 10**30):
        text = str(value)
    else:
        text = f"a {type(value).__name__}"
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
    if len(text) > MAX_DECIMAL_CHARS:
        raise ToolInputError(f"'{name}' is too long for a decimal ({len(text)} characters)", parameter=name)
    if not _DECIMAL_RE.match(text):
        raise ToolInputError(
            f"'{name}' must be a non-negative decimal such as \"0.001\"; got {shown(text)}", parameter=name
        )
    try:
        value = Decimal(text.strip())
    except InvalidOperation:  # pragma: no cover - the pattern already excludes these
        raise ToolInputError(f"'{name}' is not a decimal number", parameter=name) from None
    if plain_digits(value) > MAX_DECIMAL_DIGITS:
        raise ToolInputError(f"'{name}' has too many digits (at most {MAX_DECIMAL_DIGITS})", parameter=name)
    return value


def plain_digits(value: Decimal) -> int:
    """How many digits ``value`` has written out without an exponent, found from its exponent and
    digit count alone (``format(Decimal('1e999999999'), 'f')`` would build a billion characters)."""
    if not value.is_finite():
        return MAX_DECIMAL_DIGITS + 1
    if not value:
        return 1
    _, raw_digits, exponent = value.as_tuple()  # no arithmetic: normalize() could overflow
    assert isinstance(exponent, int)
    digits = list(raw_digits)
    while digits and digits[-1] == 0:  # trailing zeros of the coefficient: part of the exponent
        digits.pop()
        exponent += 1
    whole = max(len(digits) + exponent, 1)
    fraction = max(-exponent, 0)
    return whole + fraction


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


def check_text(name: str, value: str, *, limit: int) -> None:
    """Length first (nothing else looks at a huge value), then what can be sent at all:
    text that is not valid UTF-8 (lone surrogates) or holds control characters is refused."""
    if len(value) > limit:
        raise ToolInputError(f"'{name}' is at most {limit} characters; got {len(value)}", parameter=name)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ToolInputError(f"'{name}' is not valid Unicode text (a lone surrogate?)", parameter=name) from None
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ToolInputError(f"'{name}' contains a control character", parameter=name)


def is_client_id_param(name: str) -> bool:
    """Parameters that carry a client order (list) id: newClientOrderId, listClientOrderId, ..."""
    return name.endswith("ClientOrderId") or name == "clientOrderId"


def optional_string(args: Mapping[str, Any], name: str) -> str | None:
    """A server tool's optional text argument, stripped; ``ToolInputError`` if present but not text."""
    value = args.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ToolInputError(f"'{name}' must be a non-empty string", parameter=name)
    return value.strip()


def check_identifiers(arguments: Mapping[str, Any]) -> None:
    """Symbols and client ids against Binance's character rules, before anything else is done
    with a call (a 50 MB symbol or a lone surrogate never reaches formatting or an error text)."""
    for name, value in arguments.items():
        if name in _SYMBOL_PARAMS and value is not None:
            if not is_symbol(value):
                raise ToolInputError(
                    f"'{name}' must be a Binance symbol (BTCUSDT, 这是测试币456): {SYMBOL_RULE}",
                    parameter=name,
                )
        elif name == "symbols" and isinstance(value, list):
            if not all(is_symbol(v) for v in value[:1000]):
                raise ToolInputError(
                    f"'{name}' must list Binance symbols, each {SYMBOL_RULE}", parameter=name
                )
        elif is_client_id_param(name) and value is not None:
            if not isinstance(value, str) or not CLIENT_ID_RE.match(value):
                raise ToolInputError(
                    f"'{name}' must be 1 to at most 36 characters of letters, digits and . : / _ - (Binance's rule)",
                    parameter=name,
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
        if isinstance(raw, float) and abs(raw) > MAX_LONG:
            raise ToolInputError(f"'{name}' is too large for Binance (at most {MAX_LONG})", parameter=name)
        integer = int(raw)
        if abs(integer) > MAX_LONG:
            raise ToolInputError(f"'{name}' is too large for Binance (at most {MAX_LONG})", parameter=name)
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
        for item in raw:
            check_text(name, item, limit=MAX_STRING_CHARS)
        return json.dumps(raw, separators=(",", ":"), ensure_ascii=False)
    if not isinstance(raw, str) or not raw:
        raise ToolInputError(f"'{name}' must be a non-empty string", parameter=name)
    c = param.constraints
    check_text(name, raw, limit=c.max_length if c.max_length is not None else MAX_STRING_CHARS)  # maxLength too
    if c.min_length is not None and len(raw) < c.min_length:
        raise ToolInputError(f"'{name}' is at least {c.min_length} characters; got {len(raw)}", parameter=name)
    return raw


def _short_name(name: str) -> str:
    """A caller's parameter name, cut short and made safe to print."""
    text = name.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= 40 else text[:37] + "..."


def prepare_arguments(endpoint: Endpoint, arguments: Mapping[str, Any] | None) -> PreparedCall:
    """Validate a call's arguments and convert them; raise one ``ToolInputError`` naming every problem.

    Problems are reported in this order: the server's own arguments, unknown and missing
    parameters, each value's type/enum/range, then the "one of" rules, then what the order
    type needs (``order_types``); a rule is only judged on values that passed their own check."""
    args, respelt = respell_symbols(dict(arguments or {}))
    check_identifiers(args)  # symbols and client ids first: nothing else reads a hostile one
    problems: list[ToolInputError] = []
    account = args.pop(ACCOUNT_ARG, None)
    if account is not None and (
        not isinstance(account, str) or not account.strip() or len(account) > ACCOUNT_NAME_MAX
    ):
        problems.append(ToolInputError("'account' must be an account name from TOOLS.md", parameter=ACCOUNT_ARG))
        account = None
    if account is not None:
        check_text(ACCOUNT_ARG, account, limit=ACCOUNT_NAME_MAX)
    confirm = token = None
    if endpoint.changes_state:
        confirm, token = args.pop(CONFIRM_ARG, None), args.pop(TOKEN_ARG, None)
        for name, value in ((CONFIRM_ARG, confirm), (TOKEN_ARG, token)):
            if value is not None and not isinstance(value, str):
                problems.append(ToolInputError(f"'{name}' must be a string", parameter=name))
            elif value is not None:
                check_text(name, value, limit=MAX_STRING_CHARS)
    raw = args.pop(RAW_ARG, False) if endpoint.tool in RAW_REPLY_TOOLS else False
    if not isinstance(raw, bool):
        problems.append(ToolInputError(f"'{RAW_ARG}' must be true or false", parameter=RAW_ARG))
        raw = False
    environment = None
    if not endpoint.signed:
        environment = args.pop(ENVIRONMENT_ARG, None)
        if environment is not None and environment not in ENVIRONMENTS:
            problems.append(ToolInputError(
                f"'environment' must be one of {', '.join(ENVIRONMENTS)}", parameter=ENVIRONMENT_ARG
            ))
        elif environment is not None and account is not None:
            problems.append(ToolInputError("give either 'account' or 'environment', not both", parameter=ENVIRONMENT_ARG))
    unknown = sorted(k for k in args if k not in endpoint.params)
    if unknown:
        own = [ACCOUNT_ARG, *([] if endpoint.signed else [ENVIRONMENT_ARG]), *([RAW_ARG] if endpoint.tool in RAW_REPLY_TOOLS else [])]
        known = ", ".join([*endpoint.params, *own])
        named = ", ".join(_short_name(k) for k in unknown[:10]) + (", ..." if len(unknown) > 10 else "")
        problems.append(ToolInputError(
            f"unknown parameter(s) {named} for {endpoint.tool}; it takes: {known}",
            parameter=_short_name(unknown[0]),
        ))
    present = {k for k, v in args.items() if v is not None and k in endpoint.params}
    missing = [name for name in endpoint.required if name not in present]
    if missing:
        problems.append(ToolInputError(f"missing required parameter(s): {', '.join(missing)}", parameter=missing[0]))
    wire: dict[str, str] = {}
    for name, param in endpoint.params.items():
        if name in present:
            try:
                wire[name] = to_wire(param, args[name])
            except ToolInputError as exc:
                problems.append(exc)
    for rule in endpoint.rules:
        count = sum(1 for name in rule.params if name in present)
        broken = (
            (rule.kind is RuleKind.AT_LEAST_ONE and count < 1)
            or (rule.kind is RuleKind.AT_MOST_ONE and count > 1)
            or (rule.kind is RuleKind.EXACTLY_ONE and count != 1)
        )
        if broken:
            problems.append(ToolInputError(f"{endpoint.tool} needs {rule.describe()}", parameter=rule.params[0]))
    given = {**{name: str(args[name]) for name in present}, **wire}  # a bad value is reported once, above
    for name, text in order_type_problems(endpoint.tool, given, endpoint.params):
        problems.append(ToolInputError(text, parameter=name))
    if problems:
        raise combine(problems)
    return PreparedCall(
        account=account.strip() if account else None,
        environment=environment,
        params=tuple(wire.items()),
        confirm=confirm,
        confirmation_token=token,
        respelt=respelt,
        raw=raw,
    )


def respell_symbols(args: dict[str, Any]) -> tuple[dict[str, Any], tuple[tuple[str, str], ...]]:
    """``symbol`` and ``symbols`` as people and ccxt type them (``btc/usdt``) in Binance's spelling
    (``policy.spelled_symbol``); a value that would still not be a symbol is left for
    ``check_identifiers`` to refuse as it was typed."""
    respelt: list[tuple[str, str]] = []

    def spell(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        used = spelled_symbol(value)
        if used == value or not is_symbol(used):
            return value
        respelt.append((value, used))
        return used

    if "symbol" in args:
        args["symbol"] = spell(args["symbol"])
    if isinstance(args.get("symbols"), list) and len(args["symbols"]) <= MAX_RESPELT_ITEMS:
        args["symbols"] = [spell(v) for v in args["symbols"]]
    return args, tuple(respelt)


def combine(problems: list[ToolInputError]) -> ToolInputError:
    """One error for all of a call's problems (the first one's parameter leads)."""
    if len(problems) == 1:
        return problems[0]
    first = problems[0]
    message = f"{len(problems)} problems: " + "; ".join(p.message for p in problems)
    return ToolInputError(
        message,
        parameter=first.parameter,
        hint="Fix all the named parameters and call the tool again.",
        problems=tuple({"parameter": p.parameter, "message": p.message} for p in problems),
    )
