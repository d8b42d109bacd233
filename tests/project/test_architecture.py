"""The house and its wings (ARCHITECTURE.md): each wing says what it owns, may use and offers, and
says it truly; the import-linter contracts cover every part of the package; and they bite: an
upward import, or one between sibling wings, makes ``lint-imports`` fail."""

from __future__ import annotations

import importlib
import pkgutil
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import binance_spot_mcp

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(binance_spot_mcp.__file__).parent
MAX_MODULE_LINES = 520  # "about 500": split along a seam before a module grows past it
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _contracts() -> list[dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]


def _wings() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(PACKAGE)]) if m.ispkg)


def _top_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(PACKAGE)]) if not m.ispkg and not m.name.startswith("__"))


def test_every_wing_says_what_it_owns_what_it_may_use_and_what_it_offers():
    assert len(_wings()) >= 8
    for wing in _wings():
        doc = importlib.import_module(f"binance_spot_mcp.{wing}").__doc__ or ""
        for heading in ("Owns:", "May use:", "Offers:"):
            assert heading in doc, f"{wing}/__init__.py does not say '{heading}'"


def test_the_names_a_wing_offers_exist():
    for wing in _wings():
        doc = importlib.import_module(f"binance_spot_mcp.{wing}").__doc__ or ""
        offers = doc.split("Offers:", 1)[1]
        named = re.findall(r"``(\w+)\.(\w+)``((?:\s*/\s*``\w+``)*)", offers)
        assert named or wing in ("cli", "server"), f"{wing} names nothing it offers"
        for module_name, first, more in named:
            module = importlib.import_module(f"binance_spot_mcp.{wing}.{module_name}")
            for name in [first, *re.findall(r"``(\w+)``", more)]:
                assert hasattr(module, name), f"{wing}/__init__.py offers {module_name}.{name}, which does not exist"


def test_the_layers_contract_places_every_wing_and_every_top_level_module():
    layers = next(c for c in _contracts() if c["type"] == "layers")["layers"]
    placed = {name.strip().removeprefix("binance_spot_mcp.") for layer in layers for name in layer.split("|")}
    unplaced = (set(_wings()) | set(_top_modules())) - placed
    assert not unplaced, f"not in the layers contract (pyproject.toml): {sorted(unplaced)}"


def test_no_module_is_much_over_500_lines():
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    too_long = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert not too_long, f"split these along their seams: {too_long}"


def _lint_copy(tmp_path: Path, change: tuple[str, str] | None) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the package's own contracts, on a copy of the package (optionally with
    one line appended to one module)."""
    copy = tmp_path / "src" / "binance_spot_mcp"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    if change is not None:
        module, line = change
        with (copy / module).open("a") as f:
            f.write(f"\n{line}  # noqa: E402,F401\n")
    own = [c for c in _contracts() if not any(m.startswith("tests") for m in c.get("source_modules", []))]
    lines = ["[importlinter]", "root_packages =", "    binance_spot_mcp", "include_external_packages = True", ""]
    for i, contract in enumerate(own):
        lines.append(f"[importlinter:contract:{i}]")
        for key, value in contract.items():
            if isinstance(value, list):
                lines.append(f"{key} =")
                lines.extend(f"    {v}" for v in value)
            else:
                lines.append(f"{key} = {value}")
        lines.append("")
    config = tmp_path / ".importlinter"
    config.write_text("\n".join(lines))
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path / "src")},
    )


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # the exchange wing reaching up into the guard
        ("exchange/pricing.py", "from binance_spot_mcp.guard import killswitch", "binance_spot_mcp.exchange is not allowed to import binance_spot_mcp.guard"),
        # two sibling wings knowing each other
        ("approval/gate.py", "from binance_spot_mcp.streams import buffers", "binance_spot_mcp.approval is not allowed to import binance_spot_mcp.streams"),
        # a foundation importing a wing
        ("journal.py", "from binance_spot_mcp.accounts import reading", "binance_spot_mcp.journal is not allowed to import binance_spot_mcp.accounts"),
        # the exchange wing learning MCP
        ("exchange/orders.py", "import mcp.types", "binance_spot_mcp.exchange is not allowed to import mcp"),
    ],
)
def test_an_import_against_the_layers_fails_lint_imports(tmp_path, module, line, broken):
    done = _lint_copy(tmp_path, (module, line))
    assert done.returncode == 1, done.stdout + done.stderr
    assert broken in done.stdout


def test_the_package_as_it_is_keeps_every_contract(tmp_path):
    done = _lint_copy(tmp_path, None)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "BROKEN" not in done.stdout
