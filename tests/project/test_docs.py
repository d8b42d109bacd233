"""The documentation tells the truth: every command line in README's quick start and in
docs/hosts.md is one the CLI accepts, every option's environment variable exists, and
TOOLS.md.example shows every field the parser knows and parses into the accounts it describes."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from binance_spot_mcp import config
from binance_spot_mcp.accounts.reading import _FIELDS
from binance_spot_mcp.accounts.store import AccountStore
from binance_spot_mcp.cli.commands import _parser
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.redact import Redactor

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
HOSTS = (ROOT / "docs" / "hosts.md").read_text()
SERVER = "/path/to/checkout/.venv/bin/binance-spot-mcp"


def host_section() -> str:
    """Every place that shows a host's configuration: README's quick start and docs/hosts.md."""
    start = README.index("## Quick start")
    return README[start : README.index("\n## ", start + 5)] + "\n" + HOSTS


def server_argv_from_readme() -> list[list[str]]:
    """The server's own arguments in every example of the host section."""
    section = host_section()
    found: list[list[str]] = []
    for block in re.findall(r"```json\n(.*?)```", section, re.S):
        for server in json.loads(block)["mcpServers"].values():
            assert server["command"] == SERVER
            found.append(server["args"])
    for line in re.findall(r"^\s*(?:claude|npx) .*$", section, re.M):
        words = shlex.split(line.replace("$BINANCE_SPOT_MCP_HTTP_TOKEN", "t" * 20))
        if SERVER not in words:
            continue
        rest = words[words.index(SERVER) + 1 :]
        if "--method" in rest:  # the Inspector's own options follow the server command
            rest = rest[: rest.index("--method")]
        found.append(rest)
    return found


def test_every_documented_server_command_line_parses():
    examples = server_argv_from_readme()
    assert len(examples) >= 5  # README: Claude Code, Claude Desktop; docs/hosts.md: both again, the Inspector
    for argv in examples:
        args = _parser().parse_args(argv)
        assert args.tools_file == "/path/to/TOOLS.md"
        assert args.command in (None, "serve")
        if args.toolsets is not None:
            assert set(args.toolsets.split(",")) <= {"market", "account", "trade", "order_lists", "admin"}


def test_claude_code_http_example_matches_the_server_defaults():
    line = next(x for x in host_section().splitlines() if "--transport http" in x)
    assert "http://127.0.0.1:8765/mcp" in line and '"Authorization: Bearer $BINANCE_SPOT_MCP_HTTP_TOKEN"' in line
    args = _parser().parse_args(["serve", "--http"])
    assert args.http and args.host is None and args.port is None  # None: the documented defaults apply


def test_options_table_names_real_flags_and_variables():
    section = HOSTS[HOSTS.index("## Options") : HOSTS.index("\n## ", HOSTS.index("## Options") + 5)]
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|", section, re.M)
    assert len(rows) >= 6
    source = Path(config.__file__).read_text()
    for flag, variable in rows:
        name = variable.split("=")[0]
        assert f'"{name}"' in source, f"{name} is not read by config.py"
        words = flag.replace("...", "").split()
        argv = [w if not w.isupper() and w not in {"PATH", "A,B", "LEVEL"} else "x" for w in words]
        if "--toolsets" in argv:
            argv = ["--toolsets", "market"]
        _parser().parse_args(argv)


def test_tools_md_example_shows_every_field_and_parses(tmp_path):
    example = (ROOT / "TOOLS.md.example").read_text()
    labels = set(re.findall(r"^- ([A-Za-z ]+):", example, re.M))
    canonical = {label for label, key in _FIELDS.items() if label != "secret key"}
    assert {label.lower() for label in labels} >= canonical
    assert "secret key" in example.lower()  # the accepted alias is mentioned too

    target = tmp_path / "TOOLS.md"
    shutil.copy(ROOT / "TOOLS.md.example", target)
    target.chmod(0o600)
    current = AccountStore(load_settings(tools_file=str(target), environ={}), Redactor()).current()
    names = set(current.accounts) | set(current.broken)
    assert names == set(re.findall(r"^### (\S+)", example, re.M))
    # only the accounts whose key files do not exist here are unusable, and they say why
    assert set(current.broken) == {"ed25519-demo", "rsa-live"}
    assert all("key file" in b.problem.lower() or "not found" in b.problem.lower() for b in current.broken.values())
    assert current.accounts["main"].environment == "testnet"
    assert current.accounts["old-style"].environment == "testnet"
    assert current.accounts["local-fake"].base_url == "http://127.0.0.1:9000"


@pytest.mark.parametrize("heading", ["### Claude Desktop", "### Claude Code", "### Any other MCP host", "## Streamable HTTP"])
def test_host_sections_exist(heading):
    assert f"\n{heading}\n" in HOSTS
