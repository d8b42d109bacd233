"""Smoke test for the benchmarks (issue #5): ``bench/run.py --quick`` still runs end to end and
prints every section's figures as numbers. It never looks at how big the numbers are: the
benchmark is not a test and must not fail CI on a figure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 240  # the quick run takes ~1 min on a quiet machine, ~3 min on a heavily loaded 2-core one

# section -> metric names (row prefixes) that must be present, and whether the row has a baseline
EXPECTED: dict[str, list[tuple[str, bool]]] = {
    "1": [("cold start to tools/list, median", True), ("cold start, fastest run", True)],
    "2": [
        ("public call (get_ticker_price) median", True),
        ("public call (get_ticker_price) p99", True),
        ("signed read (get_account) median", True),
        ("signed read (get_account) p99", True),
        ("SDK floor: one no-op tool call over stdio, median", False),
    ],
    "3": [
        ("20 concurrent calls: succeeded", True),
        ("20 concurrent calls: TCP connections to exchange", True),
        ("20 concurrent calls: p50", True),
        ("20 concurrent calls: p99", True),
    ],
    "4": [("RSS after start", True), ("RSS after 100 calls", True), ("RSS growth 50 -> 100 calls", True)],
    "5": [("tools/list JSON, all", True), ("tools/list, all", False), ("--toolsets market", True),
          ("--toolsets account", True), ("--toolsets trade", True), ("--toolsets order_lists", True),
          ("--toolsets admin", True), ("--toolsets streams", True), ("--read-only", True), ("server instructions", False),
          ("skill guide resource", True)],
    "6": [("order on a capped account vs uncapped, median", True), ("order on a capped account vs uncapped, p99", True)],
    "7": [("event -> read_stream long poll returns, median", True), ("event -> read_stream long poll returns, p99", True),
          ("added latency: ours vs a minimal SDK server relaying the same stream", True),
          ("RSS with 20 open subscriptions", False), ("resubscribe ", True)],
    "8": [("first sync: myTrades requests", True), ("first get_portfolio with the sync", False),
          ("get_portfolio, warm cache", True)],
    "9": [("MARKET order: paper vs testnet on the fake, median", True), ("catch-up:", False)],
}


def number(cell: str) -> float:
    return float(cell.replace(",", ""))


def table_rows(stdout: str) -> list[list[str]]:
    rows = []
    for line in stdout.splitlines():
        if line.startswith("| ") and line.endswith(" |"):
            cells = [c.strip() for c in line[1:-1].split("|")]
            if cells and cells[0] in EXPECTED:
                rows.append(cells)
    return rows


def test_quick_benchmark_prints_every_figure() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--timeout", str(TIMEOUT_S - 15)],
        cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    rows = table_rows(proc.stdout)
    assert rows, proc.stdout
    for section, metrics in EXPECTED.items():
        for prefix, has_baseline in metrics:
            matching = [r for r in rows if r[0] == section and r[1].startswith(prefix)]
            assert matching, f"section {section}: no row starting {prefix!r} in\n{proc.stdout}"
            _, _, ours, baseline, relation, target, met = matching[0]
            number(ours)  # a number, whatever its size
            if has_baseline:
                number(baseline)
                assert relation not in ("", "—"), matching[0]
            assert met in ("yes", "NO", "—"), matching[0]
    assert "targets missed:" in proc.stdout


def test_only_refuses_the_memory_section_without_the_cold_starts_it_compares_with() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--only", "4", "7"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "section 4 (memory)" in proc.stderr and "add 1" in proc.stderr
