"""The ways to install: one version everywhere, the MCP Registry's server.json, the Claude Desktop
bundle's manifest.json (checked here against the code; .ci/package validates and packs it with the
official mcpb CLI), and the Claude Code plugin's structure (.ci/package runs `claude plugin
validate` too). The manifest's env mapping is driven end to end: a host's form values reach a real
server over stdio and sign a request at the fake exchange."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from binance_spot_mcp import __version__, config
from binance_spot_mcp.accounts.tools import TOOLS as ACCOUNT_TOOLS
from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.catalog.toolsets import Selection
from binance_spot_mcp.config import ENVIRONMENTS, parse_toolsets
from binance_spot_mcp.server.tool_list import build_tools, offered_tools
from tests.e2e_support import ERAS, console_script, result_json, stdio_client_for

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SERVER_JSON = json.loads((ROOT / "server.json").read_text())
MANIFEST = json.loads((ROOT / "mcpb" / "manifest.json").read_text())
PLUGIN = json.loads((ROOT / ".claude-plugin" / "plugin.json").read_text())
MARKETPLACE = json.loads((ROOT / ".claude-plugin" / "marketplace.json").read_text())
PLUGIN_MCP = json.loads((ROOT / ".mcp.json").read_text())
README = (ROOT / "README.md").read_text()
CONFIG_SOURCE = Path(config.__file__).read_text()
PROJECT = PYPROJECT["project"]["name"]
SCRIPT = next(iter(PYPROJECT["project"]["scripts"]))
_SECRET_NAME = re.compile(r"(API_KEY|SECRET_KEY|SECRET|TOKEN|PASSPHRASE)$")
_USER_CONFIG_REF = re.compile(r"^\$\{user_config\.([a-z_]+)\}$")


def read_by_config(variable: str) -> bool:
    return f'"{variable}"' in CONFIG_SOURCE


def test_one_version_source():
    assert "version" not in PYPROJECT["project"] and PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "server/binance_spot_mcp/__init__.py"
    done = subprocess.run([console_script(), "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.strip() == f"{SCRIPT} {__version__}"
    others = {
        "server.json": SERVER_JSON["version"],
        "server.json package": SERVER_JSON["packages"][0]["version"],
        "mcpb/manifest.json": MANIFEST["version"],
        ".claude-plugin/plugin.json": PLUGIN["version"],
    }
    assert others == dict.fromkeys(others, __version__), "bump every version together with __init__.__version__"


def test_server_json_for_the_mcp_registry():
    name = SERVER_JSON["name"]
    owner = re.fullmatch(r"io\.github\.([A-Za-z0-9-]+)/" + re.escape(PROJECT), name)
    assert owner, name
    assert SERVER_JSON["$schema"].startswith("https://static.modelcontextprotocol.io/schemas/")
    assert 1 <= len(SERVER_JSON["description"]) <= 100  # the registry's limit
    assert SERVER_JSON["repository"] == {"url": f"https://github.com/{owner.group(1)}/{PROJECT}", "source": "github"}
    # the registry checks PyPI ownership by this marker in the package's README (its long description)
    assert f"mcp-name: {name}" in README and PYPROJECT["project"]["readme"] == "README.md"
    (package,) = SERVER_JSON["packages"]
    assert {k: package[k] for k in ("registryType", "identifier", "runtimeHint", "transport")} == {
        "registryType": "pypi", "identifier": PROJECT, "runtimeHint": "uvx", "transport": {"type": "stdio"}}
    assert package["registryBaseUrl"] == "https://pypi.org"
    variables = package["environmentVariables"]
    assert len({v["name"] for v in variables}) == len(variables)
    for variable in variables:
        assert read_by_config(variable["name"]), f"{variable['name']} is not read by config.py"
        secret = bool(_SECRET_NAME.search(variable["name"]))
        assert variable.get("isSecret", False) is secret, variable["name"]
        assert variable.get("format", "string") in {"string", "number", "boolean", "filepath"}
        assert variable["description"] and variable.get("isRequired") is False  # market data needs no key
    names = {v["name"] for v in variables}
    assert {"BINANCE_TESTNET_API_KEY", "BINANCE_TESTNET_SECRET_KEY", "BINANCE_TOOLS_FILE"} <= names


def test_mcpb_manifest_maps_its_form_onto_the_servers_variables():
    assert MANIFEST["manifest_version"] == "0.4" and MANIFEST["name"] == PROJECT
    assert MANIFEST["repository"]["url"] == SERVER_JSON["repository"]["url"]
    server = MANIFEST["server"]
    assert server["type"] == "uv" and (ROOT / server["entry_point"]).is_file()
    assert server["mcp_config"]["command"] == "uv"
    assert server["mcp_config"]["args"] == ["run", "--directory", "${__dirname}", SCRIPT]
    user_config = MANIFEST["user_config"]
    assert set(user_config) == {"api_key", "secret_key", "environment", "toolsets", "read_only", "tools_file"}
    used = set()
    for variable, value in server["mcp_config"]["env"].items():
        assert read_by_config(variable), f"{variable} is not read by config.py"
        field = _USER_CONFIG_REF.fullmatch(value)
        assert field and field.group(1) in user_config, value
        used.add(field.group(1))
        secret = bool(_SECRET_NAME.search(variable))
        assert user_config[field.group(1)].get("sensitive", False) is secret, field.group(1)
    assert used == set(user_config)
    assert user_config["environment"]["default"] in ENVIRONMENTS
    toolsets = parse_toolsets(user_config["toolsets"]["default"], "manifest")
    assert toolsets and set(toolsets) <= set(load_catalog().toolsets)
    assert user_config["read_only"]["type"] == "boolean" and user_config["tools_file"]["type"] == "file"
    served = {t.name: t.description for t in [*build_tools(load_catalog()), *ACCOUNT_TOOLS]}
    for tool in MANIFEST["tools"]:
        assert served.get(tool["name"]) == tool["description"], tool["name"]
    assert MANIFEST["tools_generated"] is True


def host_env(values: dict[str, str]) -> dict[str, str]:
    """mcp_config.env as a host fills it: given values in, the rest left as raw placeholders."""
    env = {}
    for variable, value in MANIFEST["server"]["mcp_config"]["env"].items():
        field = _USER_CONFIG_REF.fullmatch(value).group(1)
        env[variable] = values.get(field, value)
    return env


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ERAS)
async def test_the_bundle_form_reaches_a_real_server(tmp_path, fake_exchange, keys, mode):
    fake_exchange.exchange.add_account(keys.hmac_api_key, hmac_secret=keys.hmac_secret)
    form = {"api_key": keys.hmac_api_key, "secret_key": keys.hmac_secret, "environment": "testnet",
            "toolsets": "market,account", "read_only": "false"}  # tools_file left unfilled
    async with stdio_client_for(None, mode, workdir=tmp_path, base_url=fake_exchange.base_url,
                                extra_env=host_env(form)) as (client, stderr):
        listed = {t.name for t in (await client.list_tools()).tools}
        expected = offered_tools(load_catalog(), Selection(("market", "account"), False))
        assert listed == {t.name for t in expected}
        account = await client.call_tool("get_account", {"omitZeroBalances": True})
        assert not account.is_error and result_json(account)["canTrade"] is True
    signed = [r for r in fake_exchange.exchange.requests if r.path == "/api/v3/account"]
    assert signed and {k.lower(): v for k, v in signed[-1].headers.items()}["x-mbx-apikey"] == keys.hmac_api_key
    log = stderr.read_text()
    assert keys.hmac_secret not in log and keys.hmac_api_key not in log


def test_claude_code_plugin_structure():
    assert PLUGIN["name"] == PROJECT and PLUGIN["license"] == PYPROJECT["project"]["license"]
    assert PLUGIN["repository"] == SERVER_JSON["repository"]["url"]
    # the skill is the repository's own SKILL.md (one source), named as its frontmatter says
    (skill_dir,) = PLUGIN["skills"]
    skill = (ROOT / skill_dir / "SKILL.md").resolve()
    assert skill == (ROOT / "SKILL.md").resolve()
    assert re.search(r"^name: binance-spot$", skill.read_text(), re.M)
    (name, server), = PLUGIN_MCP["mcpServers"].items()
    assert name == "binance-spot" and server["command"] == "uvx"
    # installed: the plugin's own folder; opened as a project (no plugin root): the checkout
    assert server["args"] == ["--from", "${CLAUDE_PLUGIN_ROOT:-.}", SCRIPT]
    (entry,) = MARKETPLACE["plugins"]
    assert entry["name"] == PLUGIN["name"] and (ROOT / entry["source"] / ".claude-plugin" / "plugin.json").is_file()
    assert f"/plugin install {PLUGIN['name']}" in README


def test_ci_runs_the_packaging_check():
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert lines.index("bash .ci/package") > next(i for i, line in enumerate(lines) if "-m pytest" in line)
    for pinned in ("mcpb-tools", "claude-code-tools"):  # exact versions, lockfiles committed
        spec = json.loads((ROOT / ".ci" / pinned / "package.json").read_text())["dependencies"]
        assert all(re.fullmatch(r"\d+\.\d+\.\d+", v) for v in spec.values()), spec
        assert (ROOT / ".ci" / pinned / "package-lock.json").is_file()


def test_readme_and_install_doc_show_the_one_line_installs():
    for line in (f"uvx {PROJECT}", f"pipx install {PROJECT}"):
        assert line in README, line
    install = (ROOT / "docs" / "install.md").read_text()
    for line in (f"uvx {PROJECT}", f"pipx install {PROJECT}", f"uvx --from dist/binance_spot_mcp-{__version__}-py3-none-any.whl {SCRIPT}"):
        assert line in install, line


def test_ci_launches_the_bundle_as_a_host_would(tmp_path):
    """.ci/package_check.py's reading of mcp_config: ${__dirname} and defaults filled in, unset
    optional fields passed through raw (as some hosts do), which the server must then ignore."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("package_check", ROOT / ".ci" / "package_check.py")
    package_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(package_check)
    command, env = package_check.bundle_launch(ROOT / "mcpb" / "manifest.json", tmp_path)
    assert command == ["uv", "run", "--directory", str(tmp_path), SCRIPT]
    assert env["BINANCE_SPOT_MCP_TOOLSETS"] == MANIFEST["user_config"]["toolsets"]["default"]
    assert env["BINANCE_SPOT_MCP_READ_ONLY"] == "false" and env["BINANCE_SPOT_MCP_KEY_ENVIRONMENT"] == "testnet"
    assert env["BINANCE_SPOT_MCP_API_KEY"] == "${user_config.api_key}"
    settings = config.load_settings(environ=env, cwd=tmp_path)
    assert settings.env_credentials == () and settings.toolsets == ("market", "account", "trade")
    # no key and no TOOLS.md: the built-in paper account is the one account, so what paper cannot
    # simulate (SOR, OTO-family lists, allocations, account filters) is not offered
    from binance_spot_mcp.paper.desk import NOT_SIMULATED

    expected = {t.name for t in offered_tools(load_catalog(), Selection(("market", "account", "trade"), False))}
    assert "place_sor_order" in expected
    assert package_check.tools_for_defaults(ROOT / "mcpb" / "manifest.json") == expected - set(NOT_SIMULATED)
