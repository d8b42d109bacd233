"""The Claude Code plugin states what it reaches and shows an icon (`claude plugin validate`
lists both; .ci/package runs it with --strict): its network hosts are exactly the hosts the
server may send to (config's Binance REST and WebSocket hosts) plus PyPI, from which ``uvx``
installs it; its icon is an SVG file inside the plugin."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from binance_spot_mcp.config import BINANCE_HOSTS, BINANCE_WS_HOSTS, OFFICIAL_BASE_URLS, OFFICIAL_STREAM_URLS, OFFICIAL_WS_API_URLS

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = json.loads((ROOT / ".claude-plugin" / "plugin.json").read_text())
PACKAGE_INDEX = {"pypi.org", "files.pythonhosted.org"}  # uvx --from the plugin's folder resolves the dependencies


def test_network_hosts_are_the_servers_destinations_and_pypi():
    hosts = PLUGIN["network"]["hosts"]
    assert len(hosts) == len(set(hosts))
    assert set(hosts) == set(BINANCE_HOSTS) | set(BINANCE_WS_HOSTS) | PACKAGE_INDEX
    defaults = [*OFFICIAL_BASE_URLS.values(), *OFFICIAL_STREAM_URLS.values(), *OFFICIAL_WS_API_URLS.values()]
    assert all(url.split("/")[2].split(":")[0] in hosts for url in defaults)


def test_the_icon_is_a_square_svg_in_the_plugin():
    icon = (ROOT / PLUGIN["icon"]).resolve()
    assert icon.is_relative_to(ROOT) and icon.suffix == ".svg"
    svg = ET.parse(icon).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert svg.get("width") == svg.get("height") and int(svg.get("width", "0")) >= 128
