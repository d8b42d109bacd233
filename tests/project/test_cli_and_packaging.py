"""The command line, the bundled SKILL.md, the tool-list snapshot and README/CI agreement."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from binance_spot_mcp.catalog.endpoints import load_catalog, parse_skill, skill_text
from binance_spot_mcp.cli.listings import catalog_json
from binance_spot_mcp.server.tool_list import build_tools
from tests.e2e_support import console_script

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "tests" / "snapshots" / "tools.json"
UPDATE_ENV = "UPDATE_SNAPSHOTS"


def _run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60, cwd=cwd, env=env, check=False)


def test_tools_json_lists_all_48_endpoints_and_the_server_tools():
    done = _run(console_script(), "tools", "--json")
    assert done.returncode == 0, done.stderr
    everything = json.loads(done.stdout)
    own = {t["name"]: t for t in everything if t.get("server_tool")}
    assert set(own) == {"list_accounts", "show_account", "add_account", "get_safety_status", "subscribe_stream",
                        "read_stream", "unsubscribe_stream", "list_streams", "wait_for_order",
                        "get_portfolio"}  # tools/list besides endpoints
    assert own["add_account"]["changes_state"] is True and own["add_account"]["method"] is None
    assert {p["name"] for p in own["show_account"]["parameters"]} == {"account"}
    tools = [t for t in everything if not t.get("server_tool")]
    assert len(tools) == 48
    assert len({(t["method"], t["path"]) for t in tools}) == 48
    order = next(t for t in tools if t["name"] == "place_order")
    assert (order["method"], order["path"], order["security"]) == ("POST", "/api/v3/order", "TRADE")
    side = next(p for p in order["parameters"] if p["name"] == "side")
    assert side["type"] == "enum" and side["enum"] == ["BUY", "SELL"] and side["required"] is True
    assert {t["security"] for t in tools} == {"NONE", "TRADE", "USER_DATA"}


def test_python_dash_m_runs_the_same_cli():
    done = _run(sys.executable, "-m", "binance_spot_mcp", "tools")
    assert done.returncode == 0 and "48 endpoints" in done.stdout


def test_tool_list_matches_the_committed_snapshot():
    tools = [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in build_tools(load_catalog())]
    rendered = json.dumps(tools, indent=1, sort_keys=True) + "\n"
    if os.environ.get(UPDATE_ENV):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(rendered)
    assert SNAPSHOT.read_text() == rendered, f"tool list changed: review, then rerun with {UPDATE_ENV}=1"


def test_readme_test_command_is_what_ci_runs():
    lines = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    tests = [line for line in lines if "-m pytest" in line]
    assert len(tests) == 1 and tests[0] in (ROOT / "README.md").read_text()
    assert lines[-1] == "bash .ci/inspector"  # then the MCP Inspector CLI, after pytest passed


def test_docs_tool_list_matches_the_catalog():
    tools_doc = (ROOT / "docs" / "tools.md").read_text()
    listed = re.findall(r"^\| `[a-z0-9_]+` \| [a-z_]+ \| [A-Z]+ `/api/v3.*$", tools_doc, flags=re.M)
    expected = [
        f"| `{e.tool}` | {e.toolset} | {e.method} `{e.path}` | {e.security.value} | {'yes' if e.changes_state else 'no'} |"
        for e in load_catalog().endpoints
    ]
    assert listed == expected


def test_wheel_bundles_skill_md_and_runs_without_a_checkout(tmp_path):
    from hatchling.builders.wheel import WheelBuilder

    wheel = Path(next(iter(WheelBuilder(str(ROOT)).build(directory=str(tmp_path / "dist"), versions=["standard"]))))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        for name in ("SKILL.md", "references/endpoints.md", "references/accounts.md", "references/streams.md"):
            assert f"binance_spot_mcp/{name}" in names, name  # the skill and the tables it links
            assert archive.read(f"binance_spot_mcp/{name}") == (ROOT / name).read_bytes()
        archive.extractall(tmp_path / "site")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(tmp_path / "site"), "PATH": os.environ.get("PATH", "")}
    code = "from binance_spot_mcp.catalog.endpoints import load_catalog, skill_text; import binance_spot_mcp as m; print(m.__file__); print(len(load_catalog().endpoints))"
    done = _run(sys.executable, "-c", code, cwd=elsewhere, env=env)
    assert done.returncode == 0, done.stderr
    where, count = done.stdout.split()
    assert where.startswith(str(tmp_path / "site")) and count == "48"


def test_start_up_fails_cleanly_on_a_malformed_skill(tmp_path, monkeypatch):
    original = skill_text()
    assert "| `place_order` | trade | POST |" in original
    text = original.replace("| `place_order` | trade | POST |", "| `place_order` | trade | POKE |", 1)
    from binance_spot_mcp.errors import CatalogError

    with pytest.raises(CatalogError, match=r"SKILL.md line \d+: method 'POKE'"):
        parse_skill(text)


def test_catalog_json_is_plain_data():
    data = catalog_json(load_catalog())
    json.dumps(data)
    depth = next(t for t in data if t["name"] == "get_order_book")
    limit = next(p for p in depth["parameters"] if p["name"] == "limit")
    assert limit["maximum"] == "5000"


def test_stdout_carries_only_mcp_frames(tmp_path):
    """Invariant 6: with verbose logging and a TOOLS.md full of problems, stdout stays pure JSON-RPC."""
    (tmp_path / "TOOLS.md").write_text("## Binance Accounts\n### broken\n- API Key: abc\n- Colour: red\n")
    frames = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "get_account", "arguments": {}}},
    ]
    done = subprocess.run(
        [console_script(), "--log-level", "DEBUG", "--tools-file", str(tmp_path / "TOOLS.md")],
        input="".join(json.dumps(f) + "\n" for f in frames), capture_output=True, text=True, timeout=60,
        cwd=tmp_path, env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}, check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    replies = [json.loads(line) for line in lines]  # every stdout line is a JSON-RPC frame
    assert all(r.get("jsonrpc") == "2.0" for r in replies)
    # every request piped in is answered, although stdin closed right after them (no race: the
    # server finishes what it has read before it exits; see test_stdio_transport)
    assert sorted(r["id"] for r in replies if "id" in r) == [1, 2, 3]
    call = next(r for r in replies if r.get("id") == 3)
    assert call["result"]["isError"] is True  # get_account with no usable account: a tool error
    assert "Colour" in done.stderr  # the problems went to stderr
