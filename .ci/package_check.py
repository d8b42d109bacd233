"""Checks for .ci/package, run with the Python of a fresh install (it needs only `mcp`, a dependency).

    package_check.py stdio [--expect-tools N] [--env NAME=VALUE ...] -- COMMAND ARGS...
        start COMMAND as an MCP host would (stdio, both protocol eras), list its tools, read the
        skill's guide resource and get its prompt; with --expect-tools, the tool count must match.
    package_check.py bundle MANIFEST DIRECTORY
        run the server the way Claude Desktop runs an unpacked .mcpb: mcp_config's command, args
        and env with ${__dirname} and the user_config defaults filled in, and optional fields left
        unfilled exactly as some hosts pass them (the raw placeholder); then as `stdio`, expecting
        exactly the tools the installed package offers for the manifest's default toolsets.

Prints one line per check; exits 1 on the first failure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

GUIDE_URI = "binance-spot://skill/guide"
GUIDE_PROMPT = "binance_spot_guide"
ERAS = ("legacy", "auto")
STEP_TIMEOUT_S = 120
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")


async def drive(command: list[str], env: dict[str, str], cwd: str) -> dict[str, Any]:
    """One stdio session per protocol era; returns what the host saw."""
    seen: dict[str, Any] = {}
    for era in ERAS:
        params = StdioServerParameters(command=command[0], args=command[1:], env=env, cwd=cwd)
        with tempfile.TemporaryFile("w+") as errlog:
            try:
                with anyio.fail_after(STEP_TIMEOUT_S):
                    async with Client(stdio_client(params, errlog=errlog), mode=era) as client:
                        tools = [t.name for t in (await client.list_tools()).tools]
                        guide = (await client.read_resource(GUIDE_URI)).contents[0].text
                        prompt = await client.get_prompt(GUIDE_PROMPT)
                        seen[era] = {
                            "server": client.server_info.version if client.server_info else None,
                            "tools": tools,
                            "guide_chars": len(guide),
                            "guide_ok": guide.startswith("# Binance Spot") and "## Quick guide for agents" in guide,
                            "prompt_ok": guide in prompt.messages[0].content.text,
                            "instructions_ok": GUIDE_URI in (client.instructions or ""),
                        }
            except BaseException:
                errlog.seek(0)
                print(f"server stderr ({era}, last lines):", *errlog.read().splitlines()[-15:], sep="\n    ", file=sys.stderr)
                raise
    return seen


def check_session(command: list[str], env: dict[str, str], cwd: str, expect_tools: set[str] | None, count: int | None) -> int:
    seen = anyio.run(drive, command, env, cwd)
    failed = 0
    for era, got in seen.items():
        problems = [name for name in ("guide_ok", "prompt_ok", "instructions_ok") if not got[name]]
        if count is not None and len(got["tools"]) != count:
            problems.append(f"{len(got['tools'])} tools, expected {count}")
        if expect_tools is not None and set(got["tools"]) != expect_tools:
            problems.append(f"tools differ: {sorted(set(got['tools']) ^ expect_tools)[:8]}")
        summary = f"{era}: server {got['server']}, {len(got['tools'])} tools, guide {got['guide_chars']} chars"
        print(("ok    " if not problems else "FAIL  ") + summary + ("" if not problems else f" ({'; '.join(problems)})"))
        failed |= bool(problems)
    return 1 if failed else 0


_PASSED_THROUGH = re.compile(r"^(PATH|HOME|SYSTEMROOT|TMPDIR|SSL_CERT_FILE|SSL_CERT_DIR|UV_.*|(HTTPS?|NO|ALL)_PROXY)$", re.I)


def host_env(extra: list[str]) -> dict[str, str]:
    """A host's minimal environment: paths, and what uv needs to reach the package index here."""
    env = {name: value for name, value in os.environ.items() if _PASSED_THROUGH.match(name)}
    for item in extra:
        name, _, value = item.partition("=")
        env[name] = value
    return env


def bundle_launch(manifest_path: Path, directory: Path) -> tuple[list[str], dict[str, str]]:
    """mcp_config as a host fills it in: ${__dirname}, user_config defaults, unfilled fields left raw."""
    manifest = json.loads(manifest_path.read_text())
    config = manifest["server"]["mcp_config"]
    defaults = {
        f"user_config.{key}": (json.dumps(spec["default"]) if isinstance(spec["default"], bool) else str(spec["default"]))
        for key, spec in manifest.get("user_config", {}).items()
        if "default" in spec
    }
    values = {"__dirname": str(directory), **defaults}

    def fill(text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)

    command = [fill(config["command"]), *(fill(a) for a in config.get("args", []))]
    return command, {name: fill(value) for name, value in config.get("env", {}).items()}


def tools_for_defaults(manifest_path: Path) -> set[str]:
    """What the installed package offers with the manifest's default toolsets and read-only choice."""
    from binance_spot_mcp.catalog.endpoints import load_catalog
    from binance_spot_mcp.config import parse_toolsets
    from binance_spot_mcp.server.tool_list import offered_tools
    from binance_spot_mcp.catalog.toolsets import Selection

    from binance_spot_mcp.paper.desk import NOT_SIMULATED

    user_config = json.loads(manifest_path.read_text())["user_config"]
    selection = Selection(parse_toolsets(user_config["toolsets"]["default"], "manifest"), bool(user_config["read_only"]["default"]))
    # The bundle starts with no key and no TOOLS.md: its one account is the built-in paper account,
    # so what paper cannot simulate is not offered (server.runtime.Runtime.workable).
    return {tool.name for tool in offered_tools(load_catalog(), selection)} - set(NOT_SIMULATED)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    stdio = sub.add_parser("stdio")
    stdio.add_argument("--expect-tools", type=int)
    stdio.add_argument("--env", action="append", default=[])
    stdio.add_argument("--cwd", default=None)
    stdio.add_argument("command", nargs=argparse.REMAINDER)
    bundle = sub.add_parser("bundle")
    bundle.add_argument("manifest", type=Path)
    bundle.add_argument("directory", type=Path)
    args = parser.parse_args(argv)

    if args.what == "stdio":
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        cwd = args.cwd or tempfile.mkdtemp(prefix="package-check-")
        return check_session(command, host_env(args.env), cwd, None, args.expect_tools)

    command, env = bundle_launch(args.manifest, args.directory.resolve())
    shown = {k: (v if v.startswith("${") or not k.endswith("_KEY") else "<set>") for k, v in env.items()}
    print(f"host runs: {' '.join(command)}")
    print(f"with env:  {json.dumps(shown)}")
    expected = tools_for_defaults(args.manifest)
    cwd = tempfile.mkdtemp(prefix="bundle-host-")
    return check_session(command, {**host_env([]), **env}, cwd, expected, None)


if __name__ == "__main__":
    sys.exit(main())
