"""The portfolio card: offered to MCP Apps hosts only, rendered from get_portfolio's own
structuredContent in headless Chromium (a host page frames it and speaks the Apps messages), with
no network. The screenshot is decoded here and its allocation bars are measured: each bar's
length in pixels is the allocation the result states (a 400-pixel track is 100 %); the table's
figures are read from the rendered page and compared with the result."""

from __future__ import annotations

import json
import struct
import zlib
from decimal import Decimal
from typing import Any

import anyio
import pytest
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from binance_spot_mcp.portfolio.card import CARD_HTML, CARD_URI, CHART_WIDTH_PX
from tests.browser_support import require_chromium, start_chromium
from tests.e2e_support import memory_client
from tests.portfolio.history import History, list_bridge_only

pytestmark = pytest.mark.anyio
APPS = {"extensions": [advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})]}
BAR_RGB = (0x1F, 0x5F, 0xBF)


@pytest.fixture
def scripted(world):
    history = History(world, {"USDT": "10000", "XYZ": "100", "NOPE": "5"})
    list_bridge_only(world)
    history.trade("BTCUSDT", "BUY", "0.1", "50000")
    history.trade("BTCUSDT", "SELL", "0.04", "60000")
    history.trade("ETHUSDT", "BUY", "1", "3000")
    return world


async def test_only_apps_hosts_see_the_card_and_it_reads_back(scripted):
    world = scripted
    async with memory_client(world.tools_file, "auto", base_url=world.base_url, **APPS) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert tools["get_portfolio"].meta == {"ui": {"resourceUri": CARD_URI}}
        assert CARD_URI in {str(r.uri) for r in (await client.list_resources()).resources}
        page = (await client.read_resource(CARD_URI)).contents[0]
        assert page.mime_type == APP_MIME_TYPE and page.text == CARD_HTML
    async with memory_client(world.tools_file, "auto", base_url=world.base_url) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert tools["get_portfolio"].meta is None
        assert CARD_URI not in {str(r.uri) for r in (await client.list_resources()).resources}


def test_the_card_fetches_nothing_and_never_writes_html():
    assert "default-src 'none'" in CARD_HTML and "innerHTML" not in CARD_HTML
    for needle in ("fetch(", "XMLHttpRequest", "http://", "https://", "<img", "<link", "import("):
        assert needle not in CARD_HTML


# -- in Chromium -------------------------------------------------------------------------------------

HOST_PAGE = """<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0">
<iframe id="card" style="width:900px;height:700px;border:0"></iframe>
<script>
var RESULT = __RESULT__;
var frame = document.getElementById("card");
window.addEventListener("message", function (event) {
  var msg = event.data || {};
  if (msg.method === "ui/initialize") {
    frame.contentWindow.postMessage({jsonrpc: "2.0", id: msg.id, result: {protocolVersion: "2026-01-26",
      hostInfo: {name: "test host", version: "1"}, hostCapabilities: {}, hostContext: {}}}, "*");
  } else if (msg.method === "ui/notifications/initialized") {
    frame.contentWindow.postMessage({jsonrpc: "2.0", method: "ui/notifications/tool-result", params: RESULT}, "*");
  } else if (msg.method) {
    document.title = "unexpected " + msg.method;
  }
});
frame.srcdoc = __CARD__;
</script></body></html>"""


def script_json(value: Any) -> str:
    """JSON that can sit inside a <script> element (a "</script>" in it would end the element)."""
    return json.dumps(value).replace("</", "<\\/")


def decode_png(data: bytes) -> tuple[int, int, list[bytes], int]:
    """Width, height, rows of raw pixels and bytes per pixel of an 8-bit RGB(A) PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, rows, prev = zlib.decompress(idat), [], bytearray(width * bpp)
    stride = width * bpp + 1
    for y in range(height):
        kind, line = raw[y * stride], bytearray(raw[y * stride + 1:(y + 1) * stride])
        for i in range(len(line)):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows, bpp


def bar_pixels(row: bytes, bpp: int, start: int, end: int) -> int:
    def near(x: int) -> bool:
        px = row[x * bpp:x * bpp + 3]
        return all(abs(px[k] - BAR_RGB[k]) <= 3 for k in range(3))

    return sum(1 for x in range(start, end) if near(x))


async def test_the_card_renders_the_result_in_chromium(scripted, tmp_path):
    require_chromium("the portfolio-card test", whole_module=False)  # CI fails without it, never skips
    world = scripted
    async with memory_client(world.tools_file, "auto", base_url=world.base_url, **APPS) as client:
        with anyio.fail_after(60):
            result = await client.call_tool("get_portfolio", {})
    data = result.structured_content
    wire = result.model_dump(by_alias=True, exclude_none=True, mode="json")
    page = tmp_path / "host.html"
    page.write_text(HOST_PAGE.replace("__RESULT__", script_json(wire)).replace("__CARD__", script_json(CARD_HTML)))
    seen = await anyio.to_thread.run_sync(_render, page, tmp_path / "card.png")
    assert seen["host_title"] == ""  # the card sent nothing but ui/initialize and initialized
    assert seen["total"] == f"Total: {data['total_value']} USDT"
    for row in data["assets"]:
        cells = seen["rows"][row["asset"]]
        assert cells[:3] == [row["asset"], row["quantity"], row["value"] or "unpriced"]
        assert cells[5:] == [row["unrealised_pnl"] or "-", row["realised_pnl"] or "-"]
    assert "NOPE" in seen["unpriced"]
    width, height, pixels, bpp = decode_png((tmp_path / "card.png").read_bytes())
    measured = {}
    for asset, (x, y) in seen["tracks"].items():
        measured[asset] = bar_pixels(pixels[y], bpp, x, x + CHART_WIDTH_PX)
    priced = [r for r in data["assets"] if r["allocation_pct"] not in (None, "0.00")]
    assert set(measured) == {r["asset"] for r in priced} and len(priced) >= 4
    for r in priced:
        expected = Decimal(r["allocation_pct"]) / 100 * CHART_WIDTH_PX
        assert abs(measured[r["asset"]] - expected) <= 1, (r["asset"], measured[r["asset"]], expected)


def _render(page: Any, shot: Any) -> dict[str, Any]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = start_chromium("--window-size=1000,800", "--force-device-scale-factor=1")
    try:
        driver.get(page.as_uri())
        frame = driver.find_element(By.ID, "card")
        origin = frame.location
        driver.switch_to.frame(frame)
        WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.ID, "total"))
        rows = {tr.get_attribute("data-asset"): [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                for tr in driver.find_elements(By.CSS_SELECTOR, "#rows tr")}
        tracks = {}
        for bar in driver.find_elements(By.CSS_SELECTOR, ".bar"):
            track = bar.find_element(By.XPATH, "..")
            spot = track.location
            tracks[bar.get_attribute("data-asset")] = (origin["x"] + spot["x"], origin["y"] + spot["y"] + 7)
        seen = {"total": driver.find_element(By.ID, "total").text, "rows": rows, "tracks": tracks,
                "unpriced": driver.find_element(By.ID, "unpriced").text}
        driver.switch_to.default_content()
        seen["host_title"] = driver.title
        driver.save_screenshot(str(shot))
        return seen
    finally:
        driver.quit()
