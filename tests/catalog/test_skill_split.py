"""The skill is split as the skill authoring guidance asks: a short SKILL.md (the guide, what a
host loads each time the skill fires) that links its details in references/, where the server
also reads the tables every tool is built from.

* SKILL.md is at most 19,500 characters (Claude Code's ``claude plugin details`` projects about
  4.8k tokens on invoke; README states the figure) and holds no table the catalog reads;
* the catalog is built from SKILL.md followed by references/endpoints.md (the tool-list snapshot
  test pins that the tools did not change);
* a malformed row is reported by the file and line it is on, in either file;
* every relative link in SKILL.md and references/ leads to a file that exists.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from binance_spot_mcp.catalog import endpoints
from binance_spot_mcp.catalog.endpoints import SKILL_FILES, load_catalog, skill_text
from binance_spot_mcp.errors import CatalogError

ROOT = Path(__file__).resolve().parents[2]
SKILL = ROOT / "SKILL.md"
MAX_SKILL_CHARS = 19_500


def test_skill_md_is_short_and_holds_no_catalog_table():
    text = SKILL.read_text()
    assert len(text) <= MAX_SKILL_CHARS, f"SKILL.md is {len(text)} characters; move detail to references/"
    for heading in ("## Toolsets", "## Quick Reference", "## Parameters", "## Endpoint Parameters", "## Enums"):
        assert f"\n{heading}\n" not in text
    assert "(references/endpoints.md)" in text


def test_the_catalog_reads_skill_md_then_the_reference_tables():
    assert SKILL_FILES == ("SKILL.md", "references/endpoints.md")
    assert skill_text() == SKILL.read_text() + (ROOT / "references" / "endpoints.md").read_text()
    assert len(load_catalog().endpoints) == 48


def test_readme_states_the_measured_cost():
    """README's figure is what ``claude plugin details`` printed; it estimates SKILL.md's body
    (after the frontmatter) at about 4 characters a token, so the figure follows the file."""
    readme = " ".join((ROOT / "README.md").read_text().split())
    stated = float(re.search(r"about (\d+\.\d)k tokens each time it is invoked", readme).group(1))
    body = SKILL.read_text().split("\n---\n", 1)[1]
    assert abs(stated - len(body) / 4 / 1000) <= 0.1, f"SKILL.md is now ~{len(body) / 4000:.1f}k tokens: update README"
    assert stated <= 5.0


def _load_with(monkeypatch, parts: dict[str, str]) -> CatalogError:
    monkeypatch.setattr(endpoints, "skill_parts", lambda: tuple(parts.items()))
    load_catalog.cache_clear()
    try:
        with pytest.raises(CatalogError) as caught:
            load_catalog()
    finally:
        load_catalog.cache_clear()
    return caught.value


def test_a_malformed_row_names_its_file_and_line(monkeypatch):
    parts = dict(endpoints.skill_parts())
    tables = parts["references/endpoints.md"]
    broken = "| `get_server_time` | market | POKE |"
    parts["references/endpoints.md"] = tables.replace("| `get_server_time` | market | GET |", broken, 1)
    line = next(i for i, x in enumerate(parts["references/endpoints.md"].splitlines(), 1) if x.startswith(broken))
    assert f"references/endpoints.md line {line}: method 'POKE'" in _load_with(monkeypatch, parts).message


def test_a_catalog_table_in_skill_md_is_refused_where_it_repeats(monkeypatch):
    parts = dict(endpoints.skill_parts())
    parts["SKILL.md"] += "\n## Enums\n\n| Enum | Values |\n|---|---|\n| Side | `BUY`, `SELL` |\n"
    line = parts["references/endpoints.md"].splitlines().index("## Enums") + 1
    message = _load_with(monkeypatch, parts).message
    assert message == f"references/endpoints.md line {line}: the section '## Enums' appears twice"


@pytest.mark.parametrize("path", [SKILL, *sorted((ROOT / "references").glob("*.md"))], ids=lambda p: p.name)
def test_skill_links_lead_somewhere(path: Path):
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    for link in re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", text):
        if not re.match(r"[a-z]+:", link):
            assert (path.parent / link).exists(), f"{path.name}: {link}"
