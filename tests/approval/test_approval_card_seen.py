"""The MCP Apps approval card as a person sees it (issue 27, items 3, 5 and 6): the real server's
card result, rendered in headless Chromium inside a sandboxed iframe (``sandbox="allow-scripts"``)
of a stand-in host page that speaks the MCP Apps messages -- ``ui/initialize`` (with a dark theme in
``hostContext``), ``ui/notifications/tool-result``, ``ui/notifications/size-changed`` (the host
sizes the frame from it), ``ui/notifications/host-context-changed`` and ``tools/call`` (relayed to
the real server's ``approve_request`` through the same MCP session).

At 1280x900 and 390x844 the headline, the MAINNET badge, the request code, the CONFIRM field and
both buttons are on the first screen; after approving, the card shows the outcome the server wrote
(sent, with the order id) as a state of its own, never raw JSON. Screenshots go to tmp_path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from binance_spot_mcp.approval.card import APPROVAL_META_KEY, APPROVE_TOOL, CARD_HTML
from tests.approval_support import host, runtime_for, sends
from tests.browser_support import require_chromium, start_chromium
from tests.e2e_support import result_json

pytestmark = pytest.mark.anyio

WAIT_S = 20
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}
FIRST_SCREEN = ("headline", "badge", "code", "confirm", "approve", "decline")
LIMIT = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.002",
         "price": "50000", "account": "live"}

require_chromium("the approval-card test")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

HOST_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>stand-in host</title>
<meta name="viewport" content="width=device-width,initial-scale=1"></head>
<body style="margin:0;background:#202124">
<iframe id="card" sandbox="allow-scripts" title="approval card" style="display:block;width:100%;height:120px;border:0"></iframe>
<script>
var RESULT = __RESULT__, CONTEXT = __CONTEXT__;
var frame = document.getElementById("card");
window.seen = []; window.calls = []; window.sizes = [];
function post(message) { frame.contentWindow.postMessage(message, "*"); }
window.reply = function (id, result) { post({jsonrpc: "2.0", id: id, result: result}); };
window.setContext = function (ctx) { post({jsonrpc: "2.0", method: "ui/notifications/host-context-changed", params: ctx}); };
window.addEventListener("message", function (event) {
  if (event.source !== frame.contentWindow) { return; }
  var msg = event.data || {};
  window.seen.push(msg.method || "reply");
  if (msg.method === "ui/initialize") {
    post({jsonrpc: "2.0", id: msg.id, result: {protocolVersion: "2026-01-26", hostInfo: {name: "stand-in", version: "1"},
          hostCapabilities: {}, hostContext: CONTEXT}});
  } else if (msg.method === "ui/notifications/initialized") {
    post({jsonrpc: "2.0", method: "ui/notifications/tool-result", params: RESULT});
  } else if (msg.method === "ui/notifications/size-changed") {
    window.sizes.push(msg.params); frame.style.height = msg.params.height + "px";
  } else if (msg.method === "tools/call") {
    window.calls.push(msg);
  }
});
frame.srcdoc = __CARD__;
</script></body></html>"""


def script_json(value: Any) -> str:
    """JSON that can sit inside a <script> element (a "</script>" in it would end the element)."""
    return json.dumps(value).replace("</", "<\\/")


@pytest.fixture(scope="module")
def browser():
    driver = start_chromium("--force-device-scale-factor=1", "--allow-file-access-from-files")
    try:
        yield driver
    finally:
        driver.quit()


def _open(driver: Any, page: Path, size: str) -> None:
    width, height = SIZES[size]
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": size == "phone"})
    driver.switch_to.default_content()
    driver.get(page.as_uri())
    frame = driver.find_element(By.ID, "card")
    driver.switch_to.frame(frame)
    WebDriverWait(driver, WAIT_S).until(lambda d: d.find_element(By.ID, "form").is_displayed())
    driver.switch_to.default_content()
    # the host sized the frame from the card's last report
    WebDriverWait(driver, WAIT_S).until(lambda d: d.execute_script(
        "var s = window.sizes; return s.length > 0 && "
        "Math.abs(document.getElementById('card').getBoundingClientRect().height - s[s.length - 1].height) < 1"))


def _first_screen(driver: Any) -> dict[str, bool]:
    """Per element of the card: wholly inside the host's viewport, nothing scrolled."""
    driver.switch_to.default_content()
    driver.execute_script("window.scrollTo(0, 0)")
    top = driver.execute_script("var r = document.getElementById('card').getBoundingClientRect();"
                                "return {x: r.left, y: r.top, w: window.innerWidth, h: window.innerHeight};")
    driver.switch_to.frame(driver.find_element(By.ID, "card"))
    out = {}
    for element_id in FIRST_SCREEN:
        r = driver.execute_script("var r = document.getElementById(arguments[0]).getBoundingClientRect();"
                                  "return {t: r.top, b: r.bottom, l: r.left, r: r.right, h: r.height};", element_id)
        out[element_id] = (r["h"] > 0 and top["y"] + r["t"] >= 0 and top["y"] + r["b"] <= top["h"]
                           and top["x"] + r["l"] >= 0 and top["x"] + r["r"] <= top["w"])
    driver.switch_to.default_content()
    return out


def _in_card(driver: Any, script: str, *args: Any) -> Any:
    driver.switch_to.default_content()
    driver.switch_to.frame(driver.find_element(By.ID, "card"))
    try:
        return driver.execute_script(script, *args)
    finally:
        driver.switch_to.default_content()


@pytest.mark.parametrize("size", list(SIZES))
async def test_the_card_in_a_sandboxed_frame_reads_at_a_glance_then_shows_the_outcome(world, monkeypatch, browser,
                                                                                       tmp_path, size):
    runtime = runtime_for(world)
    try:
        async with host(runtime, "apps", "legacy", None, monkeypatch) as client:
            pending = await client.call_tool("place_order", LIMIT)
            assert result_json(pending)["status"] == "approval_pending" and sends(world) == 0
            wire = pending.model_dump(by_alias=True, exclude_none=True, mode="json")
            page = tmp_path / "host.html"
            page.write_text(HOST_PAGE.replace("__RESULT__", script_json(wire))
                            .replace("__CONTEXT__", script_json({"theme": "dark"}))
                            .replace("__CARD__", script_json(CARD_HTML)))

            def look_and_approve() -> dict[str, Any]:
                _open(browser, page, size)
                seen: dict[str, Any] = {"first_screen": _first_screen(browser),
                                        "asking_height": browser.execute_script("return window.sizes[window.sizes.length - 1].height")}
                seen.update(_in_card(browser, """
                    var t = function (id) { return document.getElementById(id).textContent; };
                    return {headline: t("headline"), badge: t("badge"), code: t("code"), expiry: t("expiry"),
                            theme: document.documentElement.getAttribute("data-theme"),
                            background: getComputedStyle(document.body).backgroundColor,
                            font: parseFloat(getComputedStyle(document.body).fontSize),
                            approve: document.getElementById("approve").getBoundingClientRect().height,
                            decline: document.getElementById("decline").getBoundingClientRect().height};"""))
                browser.save_screenshot(str(tmp_path / f"card-{size}.png"))
                browser.switch_to.frame(browser.find_element(By.ID, "card"))
                browser.find_element(By.ID, "confirm").send_keys("confirm")  # a slip: asked again, nothing sent
                browser.find_element(By.ID, "approve").click()
                seen["hint"] = browser.find_element(By.ID, "hint").text
                browser.find_element(By.ID, "confirm").clear()
                browser.find_element(By.ID, "confirm").send_keys("CONFIRM")
                browser.find_element(By.ID, "approve").click()
                browser.switch_to.default_content()
                WebDriverWait(browser, WAIT_S).until(lambda d: d.execute_script("return window.calls.length") == 1)
                seen["call"] = browser.execute_script("return window.calls[0]")
                return seen

            seen = await anyio.to_thread.run_sync(look_and_approve)
            call = seen["call"]
            assert call["params"]["name"] == APPROVE_TOOL and call["params"]["arguments"]["decision"] == "approve"
            creds = pending.meta[APPROVAL_META_KEY]
            assert call["params"]["arguments"]["approval_id"] == creds["approval_id"]
            answer = await client.call_tool(APPROVE_TOOL, call["params"]["arguments"])  # the host relays the call
            answer_wire = answer.model_dump(by_alias=True, exclude_none=True, mode="json")

            def read_outcome() -> dict[str, Any]:
                browser.execute_script("window.reply(arguments[0], arguments[1])", call["id"], answer_wire)
                WebDriverWait(browser, WAIT_S).until(lambda d: _in_card(
                    d, "return document.getElementById('state').getAttribute('data-state')") not in (None, "pending"))
                out = _in_card(browser, """return {headline: document.getElementById("headline").textContent,
                    request: document.getElementById("request").textContent,
                    state: document.getElementById("state").getAttribute("data-state"),
                    words: document.getElementById("state").textContent, text: document.body.innerText,
                    form: document.getElementById("form").hidden};""")
                out["last_size"] = browser.execute_script("return window.sizes[window.sizes.length - 1].height")
                out["height"] = _in_card(browser, "return Math.ceil(document.documentElement.getBoundingClientRect().height)")
                browser.save_screenshot(str(tmp_path / f"card-{size}-sent.png"))
                browser.execute_script("window.setContext({theme: 'light'})")
                WebDriverWait(browser, WAIT_S).until(lambda d: _in_card(
                    d, "return document.documentElement.getAttribute('data-theme')") == "light")
                return out

            outcome = await anyio.to_thread.run_sync(read_outcome)
    finally:
        await runtime.aclose()
    assert all(seen["first_screen"].values()), (size, seen["first_screen"])
    assert seen["headline"].startswith("Buy 0.002 BTC at 50,000 USDT") and seen["badge"] == "MAINNET · real money"
    assert seen["code"].startswith("Request ") and seen["code"].removeprefix("Request ") == result_json(pending)["approval_id"][:3].upper() + "-" + result_json(pending)["approval_id"][3:6].upper()
    assert seen["expiry"].startswith("This card works once, until ") and "Closing it sends nothing." in seen["expiry"]
    assert seen["theme"] == "dark" and seen["background"] == "rgb(18, 18, 18)"  # the host's theme
    assert seen["font"] >= 16 and seen["approve"] >= 44 and seen["decline"] >= 44
    assert seen["hint"] == "Type CONFIRM in capital letters to approve, or press Decline."
    order_id = result_json(answer)["orderId"]
    assert sends(world) == 1
    assert outcome["headline"] == "Sent" and outcome["state"] == "sent" and outcome["form"] is True
    assert outcome["words"] == f"Sent, and Binance accepted it: order {order_id}, status NEW."
    assert "{" not in outcome["text"] and '"symbol"' not in outcome["text"]  # no raw JSON
    assert outcome["last_size"] == outcome["height"]  # the host knows the size of the card's new state
    assert outcome["height"] < seen["asking_height"]  # it shrinks as well as grows
    assert outcome["request"] == "The request: " + seen["headline"]  # what was sent stays in view
    assert (tmp_path / f"card-{size}.png").stat().st_size > 0
