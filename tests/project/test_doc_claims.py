"""README and docs/ say what is true, and stay readable.

* README is at most 300 lines, with a contents line whose links, like every relative link in
  README and docs/, lead to a file and heading that exist;
* every ``binance-spot-mcp`` command line in their code blocks is one the CLI accepts;
* the kinds of claims a test can hold: the toolset table names each small toolset's tools, the
  chat arguments are advertised only where the operator opted in, the symbol rule is the one
  ``policy.is_symbol`` applies, and the sample ``doctor`` run has the shape of a real one.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.catalog.toolsets import Selection
from binance_spot_mcp.cli.commands import _parser
from binance_spot_mcp.policy import is_symbol
from binance_spot_mcp.server.tool_list import build_tools, offered_tools
from tests.e2e_support import console_script

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
MAX_README_LINES = 300


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", _text(path), flags=re.S)
    return {_anchor(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def _links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", _text(path), flags=re.S)
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"[a-z]+:", t)]


def test_readme_is_short_with_contents_and_quick_start_first():
    lines = _text(README).splitlines()
    assert len(lines) <= MAX_README_LINES
    headings = [line for line in lines if line.startswith("## ")]
    assert headings[0] == "## Quick start"
    contents = next(i for i, line in enumerate(lines) if line.startswith("**Contents:**"))
    assert contents < lines.index("## Quick start") < 40  # on the first screen
    for doc in DOCS:
        assert f"(docs/{doc.name})" in _text(README), f"README does not link docs/{doc.name}"


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_relative_links_lead_somewhere(path: Path):
    for link in _links(path):
        target, _, anchor = link.partition("#")
        file = (path.parent / target).resolve() if target else path
        assert file.exists(), f"{path.name}: {link} names a missing file"
        if anchor and file.suffix == ".md":
            assert anchor in _anchors(file), f"{path.name}: {link} names a missing heading"


def _documented_commands() -> list[tuple[str, list[str]]]:
    found = []
    for path in [README, *DOCS]:
        for block in re.findall(r"```(?:bash|text)?\n(.*?)```", _text(path), re.S):
            for line in block.splitlines():
                line = re.sub(r"^\$ ", "", line.strip()).split("  #")[0]
                for part in line.split("&&"):
                    if not re.match(r"\s*(\S*/)?binance-spot-mcp(\s|$)", part):
                        continue
                    words = shlex.split(part.replace("$BINANCE_SPOT_MCP_HTTP_TOKEN", "t" * 20))
                    if words and words[0].endswith("binance-spot-mcp"):
                        found.append((path.name, words[1:]))
    return found


def test_every_documented_command_line_parses():
    commands = _documented_commands()
    assert len(commands) >= 10
    for where, argv in commands:
        try:
            _parser().parse_args(argv)
        except SystemExit as exc:
            assert exc.code == 0, f"{where}: binance-spot-mcp {' '.join(argv)} is refused"  # --version exits 0


def test_the_toolset_table_names_the_tools_of_each_small_toolset():
    table = re.findall(r"^\| `([a-z_]+)` \| ([^|]+) \|$", _text(ROOT / "docs" / "tools.md"), re.M)
    named = {name: set(re.findall(r"`([a-z_]+)`", text)) for name, text in table if "`" in text}
    assert {"admin", "streams"} <= set(named)
    catalog = load_catalog()
    for toolset, tools in named.items():
        offered = {t.name for t in offered_tools(catalog, Selection((toolset,), False))}
        assert tools == offered, toolset


def test_chat_arguments_only_where_the_operator_opted_in():
    doc = " ".join(_text(ROOT / "docs" / "tools.md").split())
    assert "Only where the operator opted in to the chat approval path (`--allow-chat-confirm`" in doc
    place = {t.name: t for t in build_tools(load_catalog())}["place_order"]
    assert not {"confirm", "confirmation_token"} & set(place.input_schema["properties"])
    opted = {t.name: t for t in build_tools(load_catalog(), chat_confirm=True)}["place_order"]
    assert {"confirm", "confirmation_token"} <= set(opted.input_schema["properties"])


def test_the_symbol_rule_is_the_one_the_code_applies():
    doc = " ".join(_text(ROOT / "docs" / "security.md").split())
    assert "since 2025-12-02: 1-20 characters" in doc and "`这是测试币456`" in doc
    assert is_symbol("这是测试币456") and is_symbol("BTC-USD_1.0")
    assert not any(is_symbol(s) for s in ("BTC USDT", "BTC\u200bUSDT", "A" * 21, "", "BTC\tUSDT"))
    assert "Binance's characters" not in _text(README)  # the old, vague claim is gone


def _shape(text: str) -> list[str]:
    """A doctor run's sections and (verdict, check) pairs, without paths, ports or numbers."""
    shape = []
    for line in text.splitlines():
        if re.match(r"^(setup|accounts file|host |account |doctor:)", line):
            shape.append(line.split()[0] if line.startswith(("host ", "doctor:")) else line)
        elif match := re.match(r"^  (OK|WARN|FAIL|SKIP|INFO)\s+(\S+(?: \S+)?)\s{2,}", line):
            shape.append(f"{match.group(1)} {match.group(2)}")
    return shape


def test_the_sample_doctor_run_has_the_shape_of_a_real_one(world, tmp_path: Path):
    doc = _text(ROOT / "docs" / "troubleshooting.md")
    (sample,) = re.findall(r"```text\n\$ binance-spot-mcp .*? doctor\n(.*?)```", doc, re.S)
    # the sample's set-up: main (a key the exchange knows) and old (one it does not), mode 640
    text = _text(world.tools_file)
    main = text[text.index("### main") : text.index("### rsa")]
    old = main.replace("### main", "### old").replace(world.keys.hmac_api_key, "x" * 64)
    tools_file = tmp_path / "doctor" / "TOOLS.md"
    tools_file.parent.mkdir()
    tools_file.write_text(f"## Binance Accounts\n\n{main}{old}")
    tools_file.chmod(0o640)
    done = subprocess.run([console_script(), "--tools-file", str(tools_file), "--insecure-permissions", "doctor"],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 1, done.stderr
    real = _shape(done.stdout)
    assert _shape(sample) == real, done.stdout


def test_every_variable_the_server_reads_is_in_the_configuration_reference():
    """docs/hosts.md names every environment variable config.py reads (its options table and the
    table of variables without a flag); the per-environment URLs as ``<ENV>``."""
    from binance_spot_mcp import config

    hosts = _text(ROOT / "docs" / "hosts.md")
    source = Path(config.__file__).read_text()
    variables = set(re.findall(r'"(BINANCE_[A-Z_]+)"', source))
    variables |= {*config.BASE_URL_ENV.values(), *config.STREAM_URL_ENV.values(), *config.WS_API_URL_ENV.values()}
    variables |= set(config.POLICY_ENV.values()) if isinstance(config.POLICY_ENV, dict) else set()
    assert len(variables) >= 30
    for name in sorted(variables):
        generic = re.sub(r"_(MAINNET|TESTNET|DEMO)_", "_<ENV>_", name)
        written = re.search(rf"`{re.escape(name)}(=[^`]*)?`", hosts) or f"`{generic}`" in hosts
        assert written, f"{name} is read by config.py but not in docs/hosts.md"
