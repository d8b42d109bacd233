"""The endpoint catalog: the skill's tables parsed into typed models.

The skill is the single source of truth for the tool list: SKILL.md (its frontmatter and the
guide for agents) and the reference tables it links, ``references/endpoints.md``, read as one
text (``skill_text``). The machine-read sections are markdown pipe tables under fixed ``##``
headings:

* ``Toolsets``            the toolsets a server can enable, and the server's own tools in each
* ``Quick Reference``     one row per endpoint: tool, toolset, method, path, description, required,
                          optional, security, request weight rule and unfilled order count
* ``Parameters``          one row per parameter name: type, constraints, description (``—``: the
                          name says it all, so the schema carries none)
* ``Endpoint Parameters`` per-tool overrides of a parameter's type, constraints or description
* ``Parameter Rules``     per-tool "at least / at most / exactly one of" rules
* ``Enums``               enum names and their values, spelt as Binance spells them

The ``Weight`` column holds a small rule language (``weight_rules``): clauses
separated by ``;``, the first whose condition holds gives the weight, e.g.
``5 if !limit; 5 if limit<=100; 25 if limit<=500; 50 if limit<=1000; 250``.

This module holds the endpoint, toolset and catalog records and the loader that checks each
table's cells; the markdown itself is read by ``skill_tables``, and the parameter types are in
``model``. Any malformed row fails loading with a ``CatalogError`` naming the line and
the problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from pathlib import Path

from binance_spot_mcp.catalog.model import Constraints, Param, ParamType, Rule, RuleKind, Security
from binance_spot_mcp.catalog.skill_tables import EMPTY_CELL, Row, cell_names, parse_frontmatter, read_table
from binance_spot_mcp.catalog.weight_rules import DEFAULT_WEIGHT_RULE, WeightRule, parse_weight_rule
from binance_spot_mcp.errors import CatalogError

SKILL_FILE_NAME = "SKILL.md"
TABLES_FILE_NAME = "references/endpoints.md"  # the tables, linked from SKILL.md
SKILL_FILES = (SKILL_FILE_NAME, TABLES_FILE_NAME)
SIGNED_PARAMS_ADDED_BY_SERVER = frozenset({"timestamp", "signature"})
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_TOOL_RE = re.compile(r"^[a-z][a-z0-9_]*$")
ALL_TOOLSETS = "all"  # reserved: every toolset


@dataclass(frozen=True)
class Endpoint:
    tool: str
    method: str
    path: str
    description: str
    security: Security
    required: tuple[str, ...]
    optional: tuple[str, ...]
    params: Mapping[str, Param]
    rules: tuple[Rule, ...] = ()
    weight: str = ""  # the Weight cell as written in SKILL.md
    weight_rule: WeightRule = DEFAULT_WEIGHT_RULE
    orders: int = 0  # unfilled order count one successful call adds
    toolset: str = ""

    def weight_for(self, params: Mapping[str, str] | Sequence[tuple[str, str]]) -> int:
        """Binance's request weight for these wire parameters (arrays as compact JSON strings)."""
        values = params if isinstance(params, Mapping) else dict(params)
        kinds = {name: param.type for name, param in self.params.items()}
        return self.weight_rule.evaluate(values, kinds)

    @property
    def signed(self) -> bool:
        return self.security.signed

    @property
    def changes_state(self) -> bool:
        """True when the request changes something at the exchange.

        Every non-GET request does, except Binance's ``.../test`` endpoints, which only
        validate an order and never reach the matching engine.
        """
        return self.method != "GET" and not self.path.endswith("/test")

    @property
    def destructive(self) -> bool:
        """Spends or removes something (orders placed, cancelled, replaced, amended): every state
        change at the exchange is one a host should ask about."""
        return self.changes_state

    @property
    def title(self) -> str:
        """A short human title derived from the tool name: ``place_order_list_oco`` -> "Place order list OCO"."""
        words = [_TITLE_WORDS.get(w, w) for w in self.tool.split("_")]
        return " ".join([words[0][:1].upper() + words[0][1:], *words[1:]])


_TITLE_WORDS = {w: w.upper() for w in ("oco", "oto", "otoco", "opo", "opoco", "sor", "ui")} | {"24hr": "24h"}


@dataclass(frozen=True)
class Toolset:
    """A named group of tools that can be enabled together (``--toolsets``)."""

    name: str
    description: str
    server_tools: tuple[str, ...] = ()  # the server's own tools (not endpoints) in this set


@dataclass(frozen=True)
class Catalog:
    version: str
    skill_name: str
    endpoints: tuple[Endpoint, ...]
    enums: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    toolsets: Mapping[str, Toolset] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_tool", {e.tool: e for e in self.endpoints})

    def get(self, tool: str) -> Endpoint | None:
        """The endpoint behind a tool name, or None."""
        return self._by_tool.get(tool)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# cell parsers


def _parse_type(cell: str, row: Row, enums: Mapping[str, tuple[str, ...]]) -> tuple[ParamType, str | None]:
    if cell.startswith("enum:"):
        name = cell[len("enum:") :].strip()
        if name not in enums:
            raise CatalogError(f"{row.where()}: type '{cell}' names an enum that the Enums table does not define")
        return ParamType.ENUM, name
    try:
        kind = ParamType(cell)
    except ValueError:
        allowed = ", ".join(t.value for t in ParamType if t is not ParamType.ENUM)
        raise CatalogError(f"{row.where()}: unknown type '{cell}' (use {allowed} or enum:Name)") from None
    if kind is ParamType.ENUM:
        raise CatalogError(f"{row.where()}: write enum types as enum:Name")
    return kind, None


def _number(text: str, row: Row) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise CatalogError(f"{row.where()}: '{text}' is not a number in a constraint") from None
    if not value.is_finite():
        raise CatalogError(f"{row.where()}: constraint bound '{text}' is not finite")
    return value


def _whole(text: str, row: Row) -> int:
    value = _number(text, row)
    if value != value.to_integral_value() or value < 0:
        raise CatalogError(f"{row.where()}: '{text}' must be a whole number")
    return int(value)


def _parse_constraints(cell: str, row: Row) -> Constraints:
    if cell in EMPTY_CELL:
        return Constraints()
    found: dict[str, object] = {}
    for part in (p.strip() for p in cell.split(";")):
        if not part:
            continue
        word, _, rest = part.partition(" ")
        rest = rest.strip()
        if word == "range" and ".." in rest:
            low, high = rest.split("..", 1)
            found["minimum"], found["maximum"] = _number(low, row), _number(high, row)
            if found["minimum"] > found["maximum"]:  # type: ignore[operator]
                raise CatalogError(f"{row.where()}: empty range '{part}'")
        elif word == "min":
            found["minimum"] = _number(rest, row)
        elif word == "max":
            found["maximum"] = _number(rest, row)
        elif word == "minLength":
            found["min_length"] = _whole(rest, row)
        elif word == "maxLength":
            found["max_length"] = _whole(rest, row)
        elif word == "maxItems":
            found["max_items"] = _whole(rest, row)
        else:
            raise CatalogError(
                f"{row.where()}: unknown constraint '{part}' "
                "(use 'range A..B', 'min A', 'max B', 'minLength N', 'maxLength N', 'maxItems N')"
            )
    return Constraints(**found)  # type: ignore[arg-type]


def _check_constraints_fit(kind: ParamType, constraints: Constraints, row: Row) -> None:
    numeric = kind in {ParamType.INTEGER, ParamType.DECIMAL}
    if (constraints.minimum is not None or constraints.maximum is not None) and not numeric:
        raise CatalogError(f"{row.where()}: a numeric range only fits integer or decimal parameters")
    if (constraints.min_length is not None or constraints.max_length is not None) and kind is not ParamType.STRING:
        raise CatalogError(f"{row.where()}: minLength/maxLength only fit string parameters")
    if constraints.max_items is not None and kind is not ParamType.STRING_ARRAY:
        raise CatalogError(f"{row.where()}: maxItems only fits string[] parameters")


def _parse_orders(cell: str, row: Row) -> int:
    """The ``Orders`` cell: how much one call adds to the unfilled order count (empty: 0)."""
    if cell in EMPTY_CELL:
        return 0
    if not cell.isdigit():
        raise CatalogError(f"{row.where()}: Orders '{cell}' must be a whole number (the unfilled order count)")
    return int(cell)


# ---------------------------------------------------------------------------------------------
# the loader


def parse_skill(text: str) -> Catalog:
    """Parse SKILL.md text into a ``Catalog``; raise ``CatalogError`` naming the bad row."""
    lines = text.splitlines()
    skill_name, version = parse_frontmatter(lines)

    enums: dict[str, tuple[str, ...]] = {}
    for row in read_table(lines, "Enums", ["Enum", "Values"]):
        name = row.cells["Enum"]
        if not _NAME_RE.match(name):
            raise CatalogError(f"{row.where()}: enum name '{name}' is not a plain identifier")
        if name in enums:
            raise CatalogError(f"{row.where()}: enum '{name}' is defined twice")
        values = cell_names(row.cells["Values"])
        if not values:
            raise CatalogError(f"{row.where()}: enum '{name}' has no values")
        if len(set(values)) != len(values):
            raise CatalogError(f"{row.where()}: enum '{name}' repeats a value")
        enums[name] = values

    globals_: dict[str, Param] = {}
    for row in read_table(lines, "Parameters", ["Parameter", "Type", "Constraints", "Description"]):
        name = row.cells["Parameter"]
        if not _NAME_RE.match(name):
            raise CatalogError(f"{row.where()}: parameter name '{name}' is not a Binance-style identifier")
        if name in globals_:
            raise CatalogError(f"{row.where()}: parameter '{name}' is described twice")
        if name in SIGNED_PARAMS_ADDED_BY_SERVER:
            raise CatalogError(f"{row.where()}: '{name}' is added by the server and must not be a tool parameter")
        kind, enum_name = _parse_type(row.cells["Type"], row, enums)
        constraints = _parse_constraints(row.cells["Constraints"], row)
        _check_constraints_fit(kind, constraints, row)
        description = row.cells["Description"]
        if description in EMPTY_CELL:
            description = ""  # self-explanatory: the schema carries the name and type only
        globals_[name] = Param(
            name, kind, description, constraints, enum_name, enums[enum_name] if enum_name else ()
        )

    toolsets: dict[str, Toolset] = {}
    server_tools: set[str] = set()
    for row in read_table(lines, "Toolsets", ["Toolset", "Description", "Server tools"]):
        name = row.cells["Toolset"]
        if not _TOOL_RE.match(name):
            raise CatalogError(f"{row.where()}: toolset name '{name}' must be snake_case")
        if name in toolsets or name == ALL_TOOLSETS:
            raise CatalogError(f"{row.where()}: toolset '{name}' is declared twice or uses the reserved name")
        if row.cells["Description"] in EMPTY_CELL:
            raise CatalogError(f"{row.where()}: toolset '{name}' needs a description")
        own = cell_names(row.cells["Server tools"])
        for tool in own:
            if not _TOOL_RE.match(tool) or tool in server_tools:
                raise CatalogError(f"{row.where()}: server tool '{tool}' is misspelt or in two toolsets")
            server_tools.add(tool)
        toolsets[name] = Toolset(name, row.cells["Description"], own)

    quick = read_table(
        lines,
        "Quick Reference",
        ["Tool", "Toolset", "Method", "Path", "Description", "Required", "Optional", "Security", "Weight"],
    )
    endpoints: dict[str, Endpoint] = {}
    routes: set[tuple[str, str]] = set()
    for row in quick:
        tool = row.cells["Tool"]
        if not _TOOL_RE.match(tool):
            raise CatalogError(f"{row.where()}: tool name '{tool}' must be snake_case")
        if tool in endpoints or tool in server_tools:
            raise CatalogError(f"{row.where()}: tool '{tool}' appears twice")
        toolset = row.cells["Toolset"]
        if toolset not in toolsets:
            known = ", ".join(toolsets) or "none"
            raise CatalogError(f"{row.where()}: toolset '{toolset}' of '{tool}' is not in the Toolsets table ({known})")
        method = row.cells["Method"].upper()
        if method not in {"GET", "POST", "PUT", "DELETE"}:
            raise CatalogError(f"{row.where()}: method '{row.cells['Method']}' is not GET, POST, PUT or DELETE")
        path = row.cells["Path"]
        if not re.fullmatch(r"/api/v3/[A-Za-z0-9/]+", path):
            raise CatalogError(f"{row.where()}: path '{path}' is not under /api/v3/")
        if (method, path) in routes:
            raise CatalogError(f"{row.where()}: {method} {path} is listed twice")
        routes.add((method, path))
        try:
            security = Security(row.cells["Security"])
        except ValueError:
            raise CatalogError(
                f"{row.where()}: security '{row.cells['Security']}' is not NONE, TRADE or USER_DATA"
            ) from None
        description = row.cells["Description"]
        if description in EMPTY_CELL:
            raise CatalogError(f"{row.where()}: tool '{tool}' needs a description")
        required, optional = cell_names(row.cells["Required"]), cell_names(row.cells["Optional"])
        seen: set[str] = set()
        for name in required + optional:
            if name in seen:
                raise CatalogError(f"{row.where()}: parameter '{name}' is listed twice for '{tool}'")
            seen.add(name)
            if name not in globals_:
                raise CatalogError(f"{row.where()}: parameter '{name}' of '{tool}' has no row in the Parameters table")
        params = {n: globals_[n] for n in required + optional}
        endpoints[tool] = Endpoint(
            tool=tool,
            method=method,
            path=path,
            description=description,
            security=security,
            required=required,
            optional=optional,
            params=params,
            weight=row.cells["Weight"],
            weight_rule=parse_weight_rule(row.cells["Weight"], row, params),
            orders=_parse_orders(row.cells.get("Orders", ""), row),
            toolset=toolset,
        )

    def endpoint_for(row: Row, param: str | None = None) -> Endpoint:
        tool = row.cells["Tool"]
        endpoint = endpoints.get(tool)
        if endpoint is None:
            raise CatalogError(f"{row.where()}: tool '{tool}' is not in the Quick Reference")
        if param is not None and param not in endpoint.params:
            raise CatalogError(f"{row.where()}: '{param}' is not a parameter of '{tool}'")
        return endpoint

    overrides = read_table(lines, "Endpoint Parameters", ["Tool", "Parameter", "Type", "Constraints", "Description"])
    overridden: set[tuple[str, str]] = set()
    for row in overrides:
        name = row.cells["Parameter"]
        endpoint = endpoint_for(row, name)
        if (endpoint.tool, name) in overridden:
            raise CatalogError(f"{row.where()}: '{endpoint.tool}.{name}' is overridden twice")
        overridden.add((endpoint.tool, name))
        param = endpoint.params[name]
        if row.cells["Type"] not in EMPTY_CELL:
            kind, enum_name = _parse_type(row.cells["Type"], row, enums)
            param = replace(
                param, type=kind, enum_name=enum_name, values=enums[enum_name] if enum_name else (), constraints=Constraints()
            )
        if row.cells["Constraints"] not in EMPTY_CELL:
            param = replace(param, constraints=_parse_constraints(row.cells["Constraints"], row))
        _check_constraints_fit(param.type, param.constraints, row)
        if row.cells["Description"] not in EMPTY_CELL:
            param = replace(param, description=row.cells["Description"])
        endpoints[endpoint.tool] = replace(endpoint, params={**endpoint.params, name: param})

    for row in read_table(lines, "Parameter Rules", ["Tool", "Rule", "Parameters"]):
        endpoint = endpoint_for(row)
        try:
            kind = RuleKind(row.cells["Rule"].lower())
        except ValueError:
            allowed = "', '".join(k.value for k in RuleKind)
            raise CatalogError(f"{row.where()}: rule '{row.cells['Rule']}' is not one of '{allowed}'") from None
        names = cell_names(row.cells["Parameters"])
        if len(names) < 2:
            raise CatalogError(f"{row.where()}: a rule needs at least two parameters")
        for name in names:
            endpoint_for(row, name)
        endpoints[endpoint.tool] = replace(endpoint, rules=endpoint.rules + (Rule(kind, names),))

    used_enums = {p.enum_name for e in endpoints.values() for p in e.params.values() if p.enum_name}
    unused = [name for name in enums if name not in used_enums]
    if unused:
        raise CatalogError(f"SKILL.md Enums table defines enum(s) no parameter uses: {', '.join(unused)}")
    used_toolsets = {e.toolset for e in endpoints.values()} | {t.name for t in toolsets.values() if t.server_tools}
    empty = [name for name in toolsets if name not in used_toolsets]
    if empty:
        raise CatalogError(f"SKILL.md Toolsets table declares toolset(s) with no tools: {', '.join(empty)}")
    return Catalog(
        version=version,
        skill_name=skill_name,
        endpoints=tuple(endpoints.values()),
        enums=enums,
        toolsets=toolsets,
    )


def _skill_file(name: str) -> str:
    """One file of the skill: the copy bundled in the wheel, else the checkout's."""
    bundled = resources.files("binance_spot_mcp").joinpath(name)
    if bundled.is_file():
        return bundled.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parents[3] / name
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8")
    raise CatalogError(f"{name} is missing from the installation; reinstall binance-spot-mcp")


def skill_parts() -> tuple[tuple[str, str], ...]:
    """The skill this server runs on, as ``(file name, text)``: SKILL.md (the frontmatter and the
    guide), then the reference tables every tool is built from."""
    return tuple((name, _skill_file(name)) for name in SKILL_FILES)


def join_parts(parts: Sequence[tuple[str, str]]) -> str:
    """The parts as one text, each ending in a line break."""
    return "".join(text if text.endswith("\n") else text + "\n" for _, text in parts)


def skill_text() -> str:
    """The whole skill as one text: SKILL.md followed by its reference tables."""
    return join_parts(skill_parts())


def _locate(message: str, parts: Sequence[tuple[str, str]]) -> str:
    """``SKILL.md line N`` of the joined text, named by the file and line it comes from."""

    def where(match: re.Match[str]) -> str:
        line = int(match.group(1))
        for name, text in parts:
            count = len(text.splitlines())
            if line <= count:
                return f"{name} line {line}"
            line -= count
        return match.group(0)

    return re.sub(r"SKILL\.md line (\d+)", where, message)


@cache
def load_catalog() -> Catalog:
    """Parse the bundled skill (SKILL.md and its reference tables) once per process."""
    parts = skill_parts()
    try:
        return parse_skill(join_parts(parts))
    except CatalogError as exc:
        raise CatalogError(_locate(exc.message, parts)) from None
