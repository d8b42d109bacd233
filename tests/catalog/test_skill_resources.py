"""The skill reaches an agent through MCP alone: SKILL.md's guide (everything before the reference
tables) as a resource and a prompt, the whole file as a second resource, and instructions that
carry the essential rules and point at the guide. Over a real mcp.Client, in both protocol eras."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp.shared.exceptions import MCPError

from binance_spot_mcp.catalog.endpoints import parse_skill, skill_text
from binance_spot_mcp.catalog.skill_resources import GUIDE_PROMPT, GUIDE_URI, SKILL_URI, split_skill
from binance_spot_mcp.errors import BinanceSpotError, CatalogError, ConfigError
from binance_spot_mcp.exchange import filters, limits  # noqa: F401  (their error classes join the hierarchy)
from tests.e2e_support import ERAS, memory_client, stdio_client_for

ROOT = Path(__file__).resolve().parents[2]
SKILL = skill_text()  # SKILL.md, then the reference tables it links (references/endpoints.md)
MAX_GUIDE_CHARS = 20_000  # about 5k tokens: SKILL.md's body, what a host loads when the skill fires
MAX_INSTRUCTIONS_CHARS = 1_000


def tool_error_kinds() -> set[str]:
    """Every ``error`` kind a tool result can carry (start-up configuration errors excluded)."""
    kinds, todo = set(), [BinanceSpotError]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if not issubclass(cls, ConfigError) and cls is not BinanceSpotError:
            kinds.add(cls.kind)
    return kinds


def test_the_guide_is_everything_before_the_reference_tables():
    guide = split_skill(SKILL).guide
    assert guide.startswith("# Binance Spot\n") and "name: binance-spot" not in guide  # no frontmatter
    for heading in ("## Quick guide for agents", "## Agent rules", "## Reading results", "## Common workflows"):
        assert f"\n{heading}\n" in guide
    assert "## Quick Reference" not in guide and "| `place_order` | trade |" not in guide
    assert len(guide) <= MAX_GUIDE_CHARS and len(guide) < len(SKILL) / 2
    assert guide == split_skill((ROOT / "SKILL.md").read_text() + (ROOT / "references" / "endpoints.md").read_text()).guide
    assert "## Quick Reference" not in (ROOT / "SKILL.md").read_text()  # the tables live in references/
    parse_skill(SKILL)  # the tables the catalog needs are all still there


def test_the_guide_opens_with_what_an_agent_needs():
    guide = split_skill(SKILL).guide
    quick = guide[guide.index("## Quick guide for agents") : guide.index("## Agent rules")]
    for needed in ("`test_order`", "`list_accounts`", "CONFIRM", "`agent-`",
                   "`origClientOrderId`", "`filter_rejected`", "`environment`", GUIDE_URI, GUIDE_PROMPT):
        assert needed in quick, needed
    documented = {kind for kind in tool_error_kinds() if f"`{kind}`" in quick}
    assert documented == tool_error_kinds()  # a new error kind needs a line in the guide's table


def test_split_needs_the_heading_outside_code_blocks():
    fenced = "---\nname: x\n---\n# X\n\n```markdown\n# Reference tables\n```\n"
    with pytest.raises(CatalogError, match="Reference tables"):
        split_skill(fenced)
    assert split_skill(fenced + "text\n\n# Reference tables\n\n## Toolsets\n").guide.endswith("```\ntext\n")


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ERAS)
async def test_resources_prompt_and_instructions_over_a_client(tmp_path, mode):
    guide = split_skill(skill_text()).guide
    async with memory_client(tmp_path / "TOOLS.md", mode) as client:
        instructions = client.instructions or ""
        assert GUIDE_URI in instructions and GUIDE_PROMPT in instructions and "CONFIRM" in instructions
        assert len(instructions) <= MAX_INSTRUCTIONS_CHARS

        listed = {str(r.uri): r for r in (await client.list_resources()).resources}
        assert set(listed) == {GUIDE_URI, SKILL_URI}
        assert listed[GUIDE_URI].mime_type == "text/markdown" and listed[GUIDE_URI].size == len(guide.encode())

        read = await client.read_resource(GUIDE_URI)
        assert [c.text for c in read.contents] == [guide]
        whole = await client.read_resource(SKILL_URI)
        assert whole.contents[0].text == skill_text()
        with pytest.raises(MCPError, match="Unknown resource"):
            await client.read_resource("binance-spot://skill/nothing")

        assert [p.name for p in (await client.list_prompts()).prompts] == [GUIDE_PROMPT]
        prompt = await client.get_prompt(GUIDE_PROMPT)
        assert len(prompt.messages) == 1 and prompt.messages[0].role == "user"
        assert prompt.messages[0].content.text.endswith(guide)
        with pytest.raises(MCPError, match="Unknown prompt"):
            await client.get_prompt("something_else")


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ERAS)
async def test_guide_over_stdio_from_the_console_script(tmp_path, mode):
    async with stdio_client_for(None, mode, workdir=tmp_path) as (client, _):
        read = await client.read_resource(GUIDE_URI)
        assert read.contents[0].text == split_skill(SKILL).guide
        prompt = await client.get_prompt(GUIDE_PROMPT)
        assert "## Quick guide for agents" in prompt.messages[0].content.text
