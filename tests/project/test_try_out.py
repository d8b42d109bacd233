"""README's "Try it with no keys", pasted as a user would: one command in a fresh shell under the
usual umask 022, then the host configuration it prints, driven by a real MCP client. Every URL
the server reads points at the fake, so the REST, market-stream and user-stream tools all answer
from it (this machine has no route to Binance: a tool that left it would fail)."""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
import sys
import threading
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from binance_spot_mcp.config import BASE_URL_ENV, STREAM_URL_ENV, WS_API_URL_ENV
from tests.e2e_support import result_json
from tests.fake_binance import try_out

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
LAST_LINE = "directory: TOOLS.md gets a new key, so update the host's configuration too)."
BOUND_S = 60


def try_out_block() -> list[str]:
    section = README[README.index("## Try it with no keys") :]
    section = section[: section.index("\n## ", 5)]
    (block,) = re.findall(r"```bash\n(.*?)```", section, re.S)
    return block.strip().splitlines()


def start_as_pasted(tmp_path: Path) -> tuple[subprocess.Popen[str], list[str]]:
    """Run README's one line in bash under umask 022; return the process and what it printed."""
    (line,) = try_out_block()
    if not (ROOT / ".venv" / "bin" / "python").exists():
        line = line.replace(".venv/bin/python", shlex.quote(sys.executable))
    env = {**os.environ, "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}
    process = subprocess.Popen(["bash", "-c", f"umask 022 && exec {line}"], cwd=ROOT, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    watchdog = threading.Timer(BOUND_S, process.kill)  # hang guard for the blocking reads below
    watchdog.start()
    printed: list[str] = []
    try:
        for text in process.stdout:  # type: ignore[union-attr]
            printed.append(text.rstrip("\n"))
            if printed[-1] == LAST_LINE:
                break
    finally:
        watchdog.cancel()
    assert printed and printed[-1] == LAST_LINE, process.stderr.read() if process.poll() is not None else printed  # type: ignore[union-attr]
    return process, printed


def claude_line(printed: list[str]) -> list[str]:
    (line,) = [text for text in printed if text.startswith("claude mcp add ")]
    return shlex.split(line)


def env_of(words: list[str]) -> dict[str, str]:
    pairs = [words[i + 1] for i, word in enumerate(words[: words.index("--")]) if word == "-e"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_readme_try_out_is_one_command():
    (line,) = try_out_block()
    assert line.startswith(".venv/bin/python -m tests.fake_binance --try-out ")


def test_every_url_variable_is_printed():
    """The fake spells the names out (it never imports the package): they are all the server reads."""
    printed = try_out.url_variables("http://127.0.0.1:1", "ws://127.0.0.1:2", "ws://127.0.0.1:2/ws-api/v3")
    assert set(printed) >= {*BASE_URL_ENV.values(), *STREAM_URL_ENV.values(), *WS_API_URL_ENV.values()}
    config_source = (ROOT / "server" / "binance_spot_mcp" / "config.py").read_text()
    read_urls = set(re.findall(r'"(BINANCE_SPOT_MCP_[A-Z_]*URL)"', config_source))
    # no URL variable the server reads is left pointing at Binance, and none is made up
    assert set(printed) == read_urls | {*BASE_URL_ENV.values(), *STREAM_URL_ENV.values(), *WS_API_URL_ENV.values()}


def test_a_tools_md_the_try_out_did_not_write_is_kept(tmp_path):
    (tmp_path / "TOOLS.md").write_text("## Binance Accounts\n")
    with pytest.raises(try_out.TryOutError, match="not written by --try-out"):
        try_out.prepare_directory(tmp_path)
    assert (tmp_path / "TOOLS.md").read_text() == "## Binance Accounts\n"


@pytest.mark.anyio
async def test_the_try_out_works_as_pasted_under_umask_022(tmp_path):
    process, printed = start_as_pasted(tmp_path)
    try:
        words = claude_line(printed)
        env = env_of(words)
        assert set(env) >= {*BASE_URL_ENV.values(), *STREAM_URL_ENV.values(), *WS_API_URL_ENV.values()}
        assert all(re.match(r"wss?://127\.0\.0\.1:\d+|http://127\.0\.0\.1:\d+", env[name])
                   for name in env if name.endswith("_URL"))
        command = words[words.index("--") + 1 :]
        tools_file = Path(command[command.index("--tools-file") + 1])
        assert tools_file.parent.parent == tmp_path  # mktemp -d honoured TMPDIR
        assert stat.S_IMODE(tools_file.stat().st_mode) == 0o600 and stat.S_IMODE(tools_file.parent.stat().st_mode) == 0o700
        secret = re.search(r"^- Secret: (\S+)$", tools_file.read_text(), re.M).group(1)  # type: ignore[union-attr]
        assert secret not in "\n".join(printed)
        # the JSON for other hosts is the same server and the same variables
        start = printed.index("{")
        host = json.loads("\n".join(printed[start : printed.index("}", start) + 1]))["mcpServers"]["binance-fake"]
        assert [host["command"], *host["args"]] == command and host["env"] == env

        params = StdioServerParameters(command=command[0], args=command[1:], cwd=str(tmp_path),
                                       env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **env})
        with anyio.fail_after(BOUND_S):
            async with Client(stdio_client(params), mode="auto") as client:
                await _ask_like_a_newcomer(client)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert stat.S_IMODE((tools_file.parent / "journal.jsonl").stat().st_mode) == 0o600


async def _ask_like_a_newcomer(client: Client) -> None:
    price = await client.call_tool("get_ticker_price", {"symbol": "BTCUSDT"})
    assert not price.is_error, price
    mainnet = await client.call_tool("get_ticker_price", {"symbol": "BTCUSDT", "environment": "mainnet"})
    assert not mainnet.is_error, mainnet  # mainnet's market data comes from the fake too
    balances = result_json(await client.call_tool("get_account", {}))
    assert {b["asset"] for b in balances["balances"]} >= {"BTC", "USDT"}
    sub = await client.call_tool("subscribe_stream", {"streams": ["btcusdt@trade"], "environment": "mainnet"})
    assert not sub.is_error, sub
    order = result_json(await client.call_tool("place_order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                               "quantity": "0.001"}))
    assert order["status"] == "FILLED"
    waited = await client.call_tool("wait_for_order", {"symbol": "BTCUSDT", "orderId": order["orderId"],
                                                       "until": "FILLED", "wait_seconds": 10})
    assert not waited.is_error, waited
    answer = result_json(waited)
    assert answer["reached"] is True and "stream_unavailable" not in answer, answer  # the user stream was reached
    subscription = result_json(sub)["subscription"]
    read = result_json(await client.call_tool("read_stream", {"subscription": subscription, "wait_seconds": 10}))
    assert read["events"], read  # the market order's trade, from the fake's own stream
