"""The skill, as MCP offers it to an agent: resources and a prompt carrying SKILL.md's guide.

A host that never loads SKILL.md itself still hands the model what it needs: the guide (every
part of SKILL.md before ``# Reference tables``: when to use which tool, accounts, approvals,
lost replies, errors) as a resource and as a prompt, and the whole file, tables included, as a
second resource. The text comes from the SKILL.md the server runs on (``catalog.skill_text``),
so what an agent reads is what built the tools.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from mcp.server import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import (
    GetPromptRequestParams,
    GetPromptResult,
    ListPromptsResult,
    ListResourcesResult,
    PaginatedRequestParams,
    Prompt,
    PromptMessage,
    ReadResourceRequestParams,
    ReadResourceResult,
    Resource,
    TextContent,
    TextResourceContents,
)

from binance_spot_mcp.catalog.endpoints import skill_text
from binance_spot_mcp.errors import CatalogError

REFERENCE_HEADING = "# Reference tables"
GUIDE_URI = "binance-spot://skill/guide"
SKILL_URI = "binance-spot://skill/SKILL.md"
GUIDE_PROMPT = "binance_spot_guide"
MARKDOWN = "text/markdown"
INVALID_PARAMS = -32602  # also for an unknown resource URI (SEP-2164; -32002 is retired)
_FENCE_RE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class SkillTexts:
    guide: str  # frontmatter removed, up to (not including) the reference tables
    full: str  # SKILL.md as it is


def split_skill(text: str) -> SkillTexts:
    """Cut SKILL.md into the agent guide and the whole; the guide ends at ``# Reference tables``."""
    lines = text.splitlines(keepends=True)
    start = 0
    if lines and lines[0].strip() == "---":
        closing = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if closing is None:
            raise CatalogError("SKILL.md: the frontmatter is not closed with '---'")
        start = closing + 1
    fenced = False
    for i in range(start, len(lines)):
        if _FENCE_RE.match(lines[i]):
            fenced = not fenced
        elif not fenced and lines[i].rstrip() == REFERENCE_HEADING:
            return SkillTexts(guide="".join(lines[start:i]).strip() + "\n", full=text)
    raise CatalogError(f"SKILL.md has no '{REFERENCE_HEADING}' heading: the agent guide must end there")


@cache
def skill_texts() -> SkillTexts:
    return split_skill(skill_text())


def resources() -> list[Resource]:
    texts = skill_texts()
    return [
        Resource(
            uri=GUIDE_URI,
            name="binance-spot-guide",
            title="Binance Spot: guide for agents",
            description="Read first: which tool when, accounts, mainnet approval, lost replies, error kinds.",
            mime_type=MARKDOWN,
            size=len(texts.guide.encode()),
        ),
        Resource(
            uri=SKILL_URI,
            name="binance-spot-skill",
            title="Binance Spot: the whole skill",
            description="SKILL.md with the reference tables every tool is built from.",
            mime_type=MARKDOWN,
            size=len(texts.full.encode()),
        ),
    ]


def prompts() -> list[Prompt]:
    return [
        Prompt(
            name=GUIDE_PROMPT,
            title="Binance Spot guide",
            description="Load the rules for using the Binance Spot tools safely (the skill's guide).",
        )
    ]


def read(uri: str) -> ReadResourceResult:
    texts = skill_texts()
    by_uri = {GUIDE_URI: texts.guide, SKILL_URI: texts.full}
    if uri not in by_uri:
        raise MCPError(INVALID_PARAMS, f"Unknown resource {uri}; this server offers {GUIDE_URI} and {SKILL_URI}.")
    return ReadResourceResult(contents=[TextResourceContents(uri=uri, mime_type=MARKDOWN, text=by_uri[uri])])


def get_prompt(name: str) -> GetPromptResult:
    if name != GUIDE_PROMPT:
        raise MCPError(INVALID_PARAMS, f"Unknown prompt '{name}'; this server offers '{GUIDE_PROMPT}'.")
    text = (
        "Use the Binance Spot tools by the rules below (the binance-spot skill's guide). "
        "Look up a tool's parameters in its schema, or in the resource " + SKILL_URI + ".\n\n" + skill_texts().guide
    )
    return GetPromptResult(
        description="The binance-spot skill's guide for agents.",
        messages=[PromptMessage(role="user", content=TextContent(text=text))],
    )


def handlers() -> dict[str, object]:
    """The ``Server(...)`` keyword arguments that serve the skill's resources and prompt."""

    async def on_list_resources(ctx: ServerRequestContext, params: PaginatedRequestParams | None) -> ListResourcesResult:
        return ListResourcesResult(resources=resources())

    async def on_read_resource(ctx: ServerRequestContext, params: ReadResourceRequestParams) -> ReadResourceResult:
        return read(str(params.uri))

    async def on_list_prompts(ctx: ServerRequestContext, params: PaginatedRequestParams | None) -> ListPromptsResult:
        return ListPromptsResult(prompts=prompts())

    async def on_get_prompt(ctx: ServerRequestContext, params: GetPromptRequestParams) -> GetPromptResult:
        return get_prompt(params.name)

    return {
        "on_list_resources": on_list_resources,
        "on_read_resource": on_read_resource,
        "on_list_prompts": on_list_prompts,
        "on_get_prompt": on_get_prompt,
    }

