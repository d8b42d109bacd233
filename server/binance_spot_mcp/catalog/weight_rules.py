"""Request weights: the ``Weight`` column's rule language, parsed and evaluated.

A cell holds clauses separated by ``;``, each ``VALUE [if CONDITION]``; the first clause whose
condition holds gives the weight, and the last clause has no condition, e.g.
``5 if !limit; 5 if limit<=100; 25 if limit<=500; 50 if limit<=1000; 250``. VALUE is ``N`` or
``N*param`` (N per item of a ``string[]`` parameter); a CONDITION is ``param`` (given),
``!param`` (not given), ``param<=N`` or ``param>N`` over one of the endpoint's own parameters
(a number, or an array's item count).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum

from binance_spot_mcp.catalog.model import Param, ParamType
from binance_spot_mcp.catalog.skill_tables import EMPTY_CELL, Row
from binance_spot_mcp.errors import CatalogError


class WeightTest(str, Enum):
    GIVEN = "given"
    NOT_GIVEN = "not given"
    AT_MOST = "<="
    ABOVE = ">"


@dataclass(frozen=True)
class WeightCondition:
    """``param``, ``!param``, ``param<=N`` or ``param>N`` over one of the endpoint's parameters."""

    param: str
    test: WeightTest
    bound: int = 0

    def holds(self, values: Mapping[str, str], kind: ParamType) -> bool:
        value = values.get(self.param)
        given = _is_given(value, kind)
        if self.test is WeightTest.GIVEN:
            return given
        if self.test is WeightTest.NOT_GIVEN:
            return not given
        if not given:
            return False
        measure = _measure(value, kind)  # type: ignore[arg-type]
        if measure is None:  # unreadable value: fall through to the later (heavier) clauses
            return False
        return measure <= self.bound if self.test is WeightTest.AT_MOST else measure > self.bound


@dataclass(frozen=True)
class WeightClause:
    """``VALUE [if CONDITION]``; VALUE is ``amount`` or ``amount*per_item_of``."""

    amount: int
    per_item_of: str | None = None
    condition: WeightCondition | None = None


@dataclass(frozen=True)
class WeightRule:
    """A parsed ``Weight`` cell: the first clause whose condition holds gives the weight."""

    clauses: tuple[WeightClause, ...]

    @classmethod
    def constant(cls, weight: int) -> WeightRule:
        return cls((WeightClause(weight),))

    def evaluate(self, values: Mapping[str, str], kinds: Mapping[str, ParamType]) -> int:
        for clause in self.clauses:
            if clause.condition is None or clause.condition.holds(values, kinds[clause.condition.param]):
                if clause.per_item_of is None:
                    return clause.amount
                return clause.amount * _item_count(values.get(clause.per_item_of))
        raise AssertionError("a weight rule always ends with an unconditional clause")


DEFAULT_WEIGHT_RULE = WeightRule.constant(1)


def _is_given(value: str | None, kind: ParamType) -> bool:
    if value is None or value == "":
        return False
    if kind is ParamType.BOOLEAN:
        return value.strip().lower() == "true"
    if kind is ParamType.STRING_ARRAY:
        return _item_count(value) > 0
    return True


def _item_count(value: str | None) -> int:
    """Items in an array parameter's wire value: compact JSON, else a comma-separated list."""
    if not value:
        return 0
    try:
        items = json.loads(value)
    except ValueError:
        items = None
    if isinstance(items, list):
        return len(items)
    stripped = value.strip().strip("[]")
    return len([part for part in stripped.split(",") if part.strip()])


def _measure(value: str, kind: ParamType) -> Decimal | int | None:
    if kind is ParamType.STRING_ARRAY:
        return _item_count(value)
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


_WEIGHT_CLAUSE_RE = re.compile(r"^(\d+)(?:\s*\*\s*([A-Za-z][A-Za-z0-9]*))?(?:\s+if\s+(.+))?$")
_WEIGHT_COMPARE_RE = re.compile(r"^([A-Za-z][A-Za-z0-9]*)\s*(<=|>)\s*(\d+)$")
_WEIGHT_PRESENCE_RE = re.compile(r"^(!?)\s*([A-Za-z][A-Za-z0-9]*)$")
_WEIGHT_GRAMMAR = "write clauses 'VALUE [if COND]' separated by ';', e.g. '2 if symbol; 4*symbols if symbols<=50; 200'"


def parse_weight_rule(cell: str, row: Row, params: Mapping[str, Param]) -> WeightRule:
    """Parse a ``Weight`` cell; conditions may only name ``params`` (the endpoint's own)."""
    if cell in EMPTY_CELL:
        raise CatalogError(f"{row.where()}: the Weight cell is empty ({_WEIGHT_GRAMMAR})")

    def known(name: str, part: str) -> Param:
        if name not in params:
            raise CatalogError(f"{row.where()}: weight clause '{part}' names '{name}', which is not a parameter of this tool")
        return params[name]

    parts = [p.strip() for p in cell.split(";")]
    clauses: list[WeightClause] = []
    for index, part in enumerate(parts):
        match = _WEIGHT_CLAUSE_RE.match(part)
        if not match:
            raise CatalogError(f"{row.where()}: cannot read weight clause '{part}' ({_WEIGHT_GRAMMAR})")
        amount, per_item_of, condition_text = int(match.group(1)), match.group(2), match.group(3)
        if per_item_of is not None and known(per_item_of, part).type is not ParamType.STRING_ARRAY:
            raise CatalogError(f"{row.where()}: weight clause '{part}': N*{per_item_of} needs a string[] parameter")
        condition = None
        if condition_text is not None:
            condition_text = condition_text.strip()
            if compare := _WEIGHT_COMPARE_RE.match(condition_text):
                name, op, bound = compare.group(1), compare.group(2), int(compare.group(3))
                if known(name, part).type not in {ParamType.INTEGER, ParamType.DECIMAL, ParamType.STRING_ARRAY}:
                    raise CatalogError(
                        f"{row.where()}: weight clause '{part}' compares '{name}', which is not a number or array"
                    )
                condition = WeightCondition(name, WeightTest.AT_MOST if op == "<=" else WeightTest.ABOVE, bound)
            elif presence := _WEIGHT_PRESENCE_RE.match(condition_text):
                name = presence.group(2)
                known(name, part)
                condition = WeightCondition(name, WeightTest.NOT_GIVEN if presence.group(1) else WeightTest.GIVEN)
            else:
                raise CatalogError(
                    f"{row.where()}: cannot read the condition '{condition_text}' "
                    "(use 'param', '!param', 'param<=N' or 'param>N')"
                )
        last = index == len(parts) - 1
        if last and condition is not None:
            raise CatalogError(f"{row.where()}: the last weight clause '{part}' must have no condition")
        if not last and condition is None:
            raise CatalogError(f"{row.where()}: weight clause '{part}' has no condition, so the clauses after it never apply")
        clauses.append(WeightClause(amount, per_item_of, condition))
    return WeightRule(tuple(clauses))
