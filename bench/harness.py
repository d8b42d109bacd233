"""What every section of bench/run.py shares: statistics, the process helpers, the throwaway
world (fake exchange, TOOLS.md, server environment), how each server under test is started and
connected to, and the result table.

Like the rest of the benchmark it never imports the package under test.
"""

from __future__ import annotations

import os
import platform
import secrets
import statistics
import string
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

HERE = Path(__file__).resolve().parent
FLOOR_SCRIPT = HERE / "floor_server.py"
RELAY_SCRIPT = HERE / "relay_server.py"
MB = 1_000_000


# ---------------------------------------------------------------------------------- helpers
def median(values: list[float]) -> float:
    return statistics.median(values)


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); with fewer than 100 samples p99 is the maximum."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def token(length: int = 64) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc/<pid>/status (VmRSS is in KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / MB
    raise RuntimeError(f"no VmRSS for pid {pid}")


def child_pid(marker: str) -> int:
    """The pid of this process's child whose command line contains ``marker`` (no psutil)."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # field 4, after "pid (comm) state"
        if ppid == me and marker in cmdline:
            found.append(int(entry.name))
    if len(found) != 1:
        raise RuntimeError(f"expected one child process matching {marker!r}, found {found}")
    return found[0]


def console_script() -> str:
    candidate = Path(sys.executable).parent / "binance-spot-mcp"
    if not candidate.exists():
        raise SystemExit("binance-spot-mcp is not installed next to this Python; see README.md 'Set up'")
    return str(candidate)


def machine() -> dict[str, str]:
    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal:")), "0")
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")
    return {
        "cpus": str(os.cpu_count()),
        "memory": f"{int(mem) / 1024 / 1024:.1f} GiB",
        "cpu": cpu,
        "python": platform.python_version(),
        "mcp": dist_version("mcp"),
        "httpx": dist_version("httpx"),
        "kernel": f"{platform.system()} {platform.release()}",
        "loadavg": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


# ---------------------------------------------------------------------------------- world
@dataclass
class World:
    directory: Path
    tools_file: Path
    base_url: str
    api_key: str
    secret: str
    fake: Any
    server_env: dict[str, str] = field(default_factory=dict)


def make_world(directory: Path, fake: Any) -> World:
    """One throwaway HMAC testnet account, registered with the fake and written to TOOLS.md."""
    api_key, secret = token(), token()
    fake.exchange.add_account(api_key, hmac_secret=secret)
    tools_file = directory / "TOOLS.md"
    tools_file.write_text(
        "## Binance Accounts\n\n### main\n"
        f"- API Key: {api_key}\n- Secret: {secret}\n- Environment: testnet\n"
        f"- Base URL: {fake.base_url}\n- Description: benchmark account (throwaway key)\n"
    )
    os.chmod(tools_file, 0o600)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(directory), "PYTHONUNBUFFERED": "1"}
    # Every environment's default base URL points at the fake: nothing can reach the internet.
    env.update({f"BINANCE_SPOT_MCP_{e}_BASE_URL": fake.base_url for e in ("MAINNET", "TESTNET", "DEMO")})
    env.update({f"BINANCE_SPOT_MCP_{e}_STREAM_URL": fake.stream_url for e in ("MAINNET", "TESTNET", "DEMO")})
    env.update({f"BINANCE_SPOT_MCP_{e}_WS_API_URL": fake.ws_api_url for e in ("MAINNET", "TESTNET", "DEMO")})
    return World(directory, tools_file, fake.base_url, api_key, secret, fake, env)


def ours_params(world: World) -> StdioServerParameters:
    return StdioServerParameters(command=console_script(), args=["--tools-file", str(world.tools_file)],
                                 env=world.server_env, cwd=str(world.directory))


def floor_params(world: World) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=[str(FLOOR_SCRIPT)],
                                 env=world.server_env, cwd=str(world.directory))


def relay_params(world: World, stream_url: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=[str(RELAY_SCRIPT), stream_url],
                                 env=world.server_env, cwd=str(world.directory))


@asynccontextmanager
async def connect(params: StdioServerParameters, world: World, mode: str) -> AsyncIterator[Client]:
    with (world.directory / "server-stderr.log").open("a") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=mode) as client:
            yield client


def check(result: Any) -> None:
    if result.is_error:
        text = result.content[0].text if result.content else ""
        raise RuntimeError(f"tool call failed: {text[:300]}")


# ---------------------------------------------------------------------------------- table
@dataclass
class Row:
    section: str
    metric: str
    ours: float | str
    baseline: float | str = "—"
    relation: str = "—"
    target: str = "—"
    met: str = "—"


def fmt(value: float | str, digits: int = 2) -> str:
    if isinstance(value, str):
        return value
    if abs(value) >= 1000 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def ratio_row(section: str, metric: str, ours: float, base: float, target: float | None = None) -> Row:
    r = ours / base if base else float("inf")
    met = "—" if target is None else ("yes" if r <= target else "NO")
    return Row(section, metric, ours, base, f"{r:.2f}x", "—" if target is None else f"<= {target}x", met)


def diff_row(section: str, metric: str, ours: float, base: float, target: float | None = None) -> Row:
    d = ours - base
    met = "—" if target is None else ("yes" if d <= target else "NO")
    rel = f"+{d:.2f} ms ({ours / base:.2f}x)" if d >= 0 else f"{d:.2f} ms ({ours / base:.2f}x)"
    return Row(section, metric, ours, base, rel, "—" if target is None else f"<= +{target} ms", met)


def render(rows: list[Row]) -> str:
    header = ["#", "metric", "ours", "baseline", "ratio / diff", "target", "met?"]
    body = [[r.section, r.metric, fmt(r.ours), fmt(r.baseline), r.relation, r.target, r.met] for r in rows]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(b) for b in body)])
