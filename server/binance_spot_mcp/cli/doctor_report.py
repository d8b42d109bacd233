"""What ``doctor`` found: each check's verdict (``OK``, ``WARN``, ``FAIL``, ``SKIP``, ``INFO``), the
report that collects them, and its two renderings (text lines, JSON). The report fails (exit
code 1) when any check FAILs."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from binance_spot_mcp import __version__

OK, WARN, FAIL, SKIP, INFO = "OK", "WARN", "FAIL", "SKIP", "INFO"


@dataclass(frozen=True)
class Check:
    section: str
    name: str
    verdict: str
    detail: str
    hint: str = ""


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    def add(self, section: str, name: str, verdict: str, detail: str, hint: str = "") -> None:
        self.checks.append(Check(section, name, verdict, detail, hint))

    def count(self, verdict: str) -> int:
        return sum(1 for c in self.checks if c.verdict == verdict)

    @property
    def exit_code(self) -> int:
        return 1 if self.count(FAIL) else 0

    def summary(self) -> str:
        failures, warnings = self.count(FAIL), self.count(WARN)
        warned = f"{warnings} warning{'s' if warnings != 1 else ''}"
        if failures:
            text = f"doctor: {failures} problem{'s' if failures != 1 else ''} found"
            return f"{text}, {warned}" if warnings else text
        return f"doctor: all checks passed ({warned})" if warnings else "doctor: all checks passed"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ---------------------------------------------------------------------------------- rendering
NAME_WIDTH = 14


def render_text(report: Report) -> list[str]:
    lines = [f"binance-spot-mcp doctor {__version__}"]
    section = None
    for check in report.checks:
        if check.section != section:
            section = check.section
            lines.append(section)
        lines.append(f"  {check.verdict:<4}  {check.name:<{NAME_WIDTH}} {check.detail}")
        if check.hint and check.verdict in {WARN, FAIL}:
            lines.append(f"        {'hint:':<{NAME_WIDTH}} {check.hint}")
    lines.append(report.summary())
    return lines


def render_json(report: Report) -> str:
    return json.dumps(
        {
            "checks": [asdict(c) for c in report.checks],
            "failures": report.count(FAIL),
            "warnings": report.count(WARN),
            "exit_code": report.exit_code,
            "summary": report.summary(),
        },
        indent=2,
        ensure_ascii=False,
    )
