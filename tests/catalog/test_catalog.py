"""The SKILL.md parser: a good table loads; each kind of malformed row fails naming its line."""

from __future__ import annotations

import pytest

from binance_spot_mcp.catalog.endpoints import ParamType, RuleKind, Security, parse_skill
from binance_spot_mcp.errors import CatalogError
from tests.mini_skill import MINI_SKILL


def test_mini_skill_parses_into_typed_endpoints():
    catalog = parse_skill(MINI_SKILL)
    assert catalog.version == "1.0.1"
    assert [e.tool for e in catalog.endpoints][:2] == ["get_order_book", "get_ticker_price"]
    depth = catalog.get("get_order_book")
    assert depth.method == "GET" and depth.path == "/api/v3/depth" and depth.security is Security.NONE
    assert depth.required == ("symbol",) and depth.optional == ("limit",)
    assert depth.params["limit"].constraints.maximum == 5000  # override wins
    order = catalog.get("place_order")
    assert order.params["side"].type is ParamType.ENUM and order.params["side"].values == ("BUY", "SELL")
    assert order.signed and order.changes_state and order.destructive  # it spends money
    assert not catalog.get("test_order").changes_state and not catalog.get("test_order").destructive
    assert catalog.get("cancel_order").destructive
    assert catalog.get("cancel_order").rules[0].kind is RuleKind.AT_LEAST_ONE
    assert catalog.get("get_account").security is Security.USER_DATA and not catalog.get("get_account").changes_state


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("| `get_order_book` | market | GET |", "| `get_order_book` | market | FETCH |", "method 'FETCH'"),
        ("| omitZeroBalances, recvWindow | USER_DATA", "| omitZeroBalances, recvWindow | SECRET", "security 'SECRET'"),
        ("| symbol | limit | NONE | 5 |", "| symbol | limit, depthLimit | NONE | 5 |", "'depthLimit' of 'get_order_book'"),
        ("| limit | integer | range 1..1000 |", "| limit | int | range 1..1000 |", "unknown type 'int'"),
        ("| side | enum:Side |", "| side | enum:Sides |", "enum:Sides"),
        ("| limit | integer | range 1..1000 |", "| limit | integer | between 1 and 9 |", "unknown constraint"),
        ("| symbol | string | — |", "| symbol | string | range 1..2 |", "numeric range only fits"),
        ("| `get_order_book` | market | GET | `/api/v3/depth` |", "| `get_order_book` | market | GET | `/v1/depth` |", "not under /api/v3/"),
        ("| get_order_book | limit | — |", "| get_order_book | symbols | — |", "'symbols' is not a parameter"),
        ("| cancel_order | at least one of |", "| cancel_order | some of |", "rule 'some of'"),
        ("| Side | `BUY`, `SELL` |", "| Side | `BUY`, `BUY` |", "repeats a value"),
        ("| `get_order_book` | market | GET |", "| `Get-Order-Book` | market | GET |", "snake_case"),
        ("| `get_order_book` | market |", "| `get_order_book` | markets |", "toolset 'markets' of 'get_order_book'"),
        ("| trade | Orders. | — |", "| Trade | Orders. | — |", "toolset name 'Trade'"),
        ("| market | Market data. | — |", "| market | — | — |", "toolset 'market' needs a description"),
        ("| market | Market data. | — |", "| market | Market data. | list_accounts, list_accounts |", "two toolsets"),
    ],
)
def test_malformed_rows_fail_naming_the_line(old, new, message):
    assert old in MINI_SKILL
    broken = MINI_SKILL.replace(old, new, 1)
    with pytest.raises(CatalogError) as info:
        parse_skill(broken)
    text = str(info.value)
    assert message in text
    assert f"SKILL.md line {_line_of(broken, new)}:" in text


def test_row_with_wrong_cell_count_names_its_line():
    broken = MINI_SKILL.replace("| symbols | string[] | maxItems 100 | Several pairs. |", "| symbols | string[] | Several pairs. |")
    with pytest.raises(CatalogError, match=rf"line {_line_of(broken, '| symbols | string[] | Several')}: .* 3 cells"):
        parse_skill(broken)


def test_duplicate_tool_and_missing_section_and_unused_enum():
    row = "| `get_account` | account | GET | `/api/v3/account` | Get balances. | — | omitZeroBalances, recvWindow | USER_DATA | 20 |"
    with pytest.raises(CatalogError, match="appears twice"):
        parse_skill(MINI_SKILL.replace(row, row + "\n" + row))
    with pytest.raises(CatalogError, match="toolset.s. with no tools: spare"):
        parse_skill(MINI_SKILL.replace("| account | Account reads. | — |", "| account | Account reads. | — |\n| spare | Unused. | — |"))
    with pytest.raises(CatalogError, match="no '## Toolsets' section"):
        parse_skill(MINI_SKILL.replace("## Toolsets", "## Sets"))
    with pytest.raises(CatalogError, match="lacks column.s. Toolset"):
        parse_skill(MINI_SKILL.replace("| Tool | Toolset |", "| Tool | Set |"))
    with pytest.raises(CatalogError, match="no '## Enums' section"):
        parse_skill(MINI_SKILL.replace("## Enums", "## Enumerations"))
    with pytest.raises(CatalogError, match="no parameter uses: Extra"):
        parse_skill(MINI_SKILL + "| Extra | `A` | unused |\n")
    with pytest.raises(CatalogError, match="frontmatter"):
        parse_skill(MINI_SKILL.replace("  version: 1.0.1", "  version: one"))


def test_headings_inside_code_fences_are_not_sections():
    example = "```markdown\n## Enums\n\n| Enum | Values | Description |\n|---|---|---|\n| Side | `UP` | fake |\n```\n\n"
    # an example block before the real section is ignored, not reported as a duplicate section
    text = MINI_SKILL.replace("# Test skill\n", "# Test skill\n\n" + example, 1)
    assert parse_skill(text).enums["Side"] == ("BUY", "SELL")
    # and a fenced heading inside a section does not end it
    fenced = "\n```\n## Not a heading\n```\n"
    text = MINI_SKILL.replace("| Side | `BUY`, `SELL` | Order side. |", "| Side | `BUY`, `SELL` | Order side. |" + fenced, 1)
    text = text.replace(fenced, fenced + "| Extra | `A` | unused |\n", 1)
    with pytest.raises(CatalogError, match="no parameter uses: Extra"):
        parse_skill(text)
