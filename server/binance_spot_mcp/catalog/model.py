"""The catalog's plain value types: security types, parameter types and constraints, parameters,
and the "at least / at most / exactly one of" rules over them.

Both ``endpoints`` (the SKILL.md loader) and ``weight_rules``, which ``endpoints`` uses, need
them; here they sit below both, with no import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum


class Security(str, Enum):
    """Binance's security types for the endpoints we expose."""

    NONE = "NONE"
    TRADE = "TRADE"
    USER_DATA = "USER_DATA"

    @property
    def signed(self) -> bool:
        return self is not Security.NONE


class ParamType(str, Enum):
    STRING = "string"
    DECIMAL = "decimal"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    ENUM = "enum"
    STRING_ARRAY = "string[]"


class RuleKind(str, Enum):
    AT_LEAST_ONE = "at least one of"
    AT_MOST_ONE = "at most one of"
    EXACTLY_ONE = "exactly one of"


@dataclass(frozen=True)
class Constraints:
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    min_length: int | None = None
    max_length: int | None = None
    max_items: int | None = None


@dataclass(frozen=True)
class Param:
    name: str
    type: ParamType
    description: str
    constraints: Constraints = Constraints()
    enum_name: str | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    kind: RuleKind
    params: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.kind.value}: {', '.join(self.params)}"
