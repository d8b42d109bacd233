"""The portfolio card (MCP Apps, extension ``io.modelcontextprotocol/ui``): an allocation chart
and a P&L table, drawn from ``get_portfolio``'s ``structuredContent``.

Hosts that declared MCP Apps see ``get_portfolio`` pointing at this ``ui://`` resource and render
the card with the tool's result; other hosts get the text table. The card fetches nothing (its
Content-Security-Policy allows no network at all) and writes every value as text, never as HTML:
the figures are Binance's and the account's, not ours to trust.
"""

from __future__ import annotations

from mcp.server.apps import APP_MIME_TYPE
from mcp.types import Resource, TextResourceContents, Tool

from binance_spot_mcp.portfolio.tool import GET_PORTFOLIO

CARD_URI = "ui://binance-spot-mcp/portfolio-card.html"
CHART_WIDTH_PX = 400  # a bar of 100 % allocation; the browser test measures the bars against it

CARD_RESOURCE = Resource(
    uri=CARD_URI,
    name="portfolio-card",
    title="Binance portfolio",
    description="Allocation chart and P&L table of get_portfolio's result.",
    mime_type=APP_MIME_TYPE,
)


def with_card(tool: Tool) -> Tool:
    """``get_portfolio`` pointing at the card (for hosts that declared MCP Apps); others unchanged."""
    if tool.name != GET_PORTFOLIO:
        return tool
    meta = dict(tool.meta or {})
    meta["ui"] = {"resourceUri": CARD_URI}
    return tool.model_copy(update={"meta": meta})


def card_contents() -> TextResourceContents:
    return TextResourceContents(uri=CARD_URI, mime_type=APP_MIME_TYPE, text=CARD_HTML)


CARD_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>Portfolio</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;padding:12px;line-height:1.4;color:#111;background:#fff}
table{border-collapse:collapse;margin-top:8px}td,th{padding:2px 8px;text-align:right;white-space:nowrap}
th{border-bottom:1px solid #999}td:first-child,th:first-child{text-align:left}
.chart{margin:8px 0}.row{display:flex;align-items:center;height:18px;margin:3px 0}
.label{width:70px;font-size:13px}.track{width:__WIDTH__px;height:14px;background:#eee;position:relative}
.bar{height:14px;background:#1f5fbf}.pct{margin-left:8px;font-size:13px}
.neg{color:#b00020}.pos{color:#0a7a2f}.muted{color:#666;font-size:13px}
</style></head>
<body>
<h2 id="title">Portfolio</h2>
<p id="status">Waiting for the portfolio...</p>
<div id="summary"></div>
<div class="chart" id="chart"></div>
<table id="pnl" hidden><thead><tr><th>Asset</th><th>Quantity</th><th>Value</th><th>Coverage %</th>
<th>Avg cost</th><th>Unrealised</th><th>Realised</th></tr></thead><tbody id="rows"></tbody></table>
<p class="muted" id="unpriced"></p>
<p class="muted" id="notes"></p>
<script>
(function () {
  "use strict";
  var WIDTH = __WIDTH__, nextId = 1, pending = {};
  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (cls) { node.className = cls; }
    return node;
  }
  function send(message) { window.parent.postMessage(message, "*"); }
  function request(method, params) {
    var id = nextId++;
    send({jsonrpc: "2.0", id: id, method: method, params: params});
    return new Promise(function (resolve, reject) { pending[id] = {resolve: resolve, reject: reject}; });
  }
  function signed(cell, value) {
    if (value === null || value === undefined) { cell.textContent = "-"; return; }
    cell.textContent = String(value);
    if (String(value).charAt(0) === "-") { cell.className = "neg"; } else if (Number(value) > 0) { cell.className = "pos"; }
  }
  function show(result) {
    var data = (result && result.structuredContent) || null;
    var status = document.getElementById("status");
    if (!data || !Array.isArray(data.assets)) { status.textContent = "No portfolio in this result."; return; }
    var v = String(data.valuation || "");
    document.getElementById("title").textContent = "Portfolio of " + String(data.account || "") + " in " + v;
    status.textContent = "Prices at " + String(data.priced_at || "") + "; cost basis: " + String(data.method || "");
    var summary = document.getElementById("summary");
    summary.appendChild(el("div", "Total: " + String(data.total_value) + " " + v, null)).id = "total";
    summary.appendChild(el("div", "Unrealised P&L: " + String(data.unrealised_pnl) + "  Realised P&L: " +
      String(data.realised_pnl) + "  Fees: " + String(data.fees_value), null)).id = "pnl-total";
    var chart = document.getElementById("chart"), rows = document.getElementById("rows");
    data.assets.forEach(function (a) {
      var share = a.allocation_pct === null || a.allocation_pct === undefined ? null : Number(a.allocation_pct);
      if (share !== null && isFinite(share) && share > 0) {
        var row = el("div", null, "row"), track = el("div", null, "track"), bar = el("div", null, "bar");
        bar.style.width = Math.round(Math.min(share, 100) / 100 * WIDTH) + "px";
        bar.setAttribute("data-asset", String(a.asset));
        track.appendChild(bar);
        row.appendChild(el("span", a.asset, "label")); row.appendChild(track); row.appendChild(el("span", a.allocation_pct + " %", "pct"));
        chart.appendChild(row);
      }
      var tr = el("tr");
      tr.setAttribute("data-asset", String(a.asset));
      [a.asset, a.quantity, a.value === null ? "unpriced" : a.value, a.coverage_pct === null ? "-" : a.coverage_pct,
       a.average_cost === null ? "-" : a.average_cost].forEach(function (t) { tr.appendChild(el("td", t)); });
      var un = el("td"), re = el("td"); signed(un, a.unrealised_pnl); signed(re, a.realised_pnl);
      tr.appendChild(un); tr.appendChild(re);
      rows.appendChild(tr);
    });
    document.getElementById("pnl").hidden = false;
    if (Array.isArray(data.unpriced) && data.unpriced.length) {
      document.getElementById("unpriced").textContent = "Unpriced (no market): " + data.unpriced.join(", ");
    }
    if (Array.isArray(data.notes)) { document.getElementById("notes").textContent = data.notes.join(" "); }
  }
  window.addEventListener("message", function (event) {
    if (event.source !== window.parent) { return; }
    var msg = event.data || {};
    if (msg.jsonrpc !== "2.0") { return; }
    if (msg.id !== undefined && pending[msg.id] && !msg.method) {
      var p = pending[msg.id]; delete pending[msg.id];
      if (msg.error) { p.reject(msg.error); } else { p.resolve(msg.result); }
      return;
    }
    if (msg.method === "ui/notifications/tool-result") { show(msg.params); }
  });
  request("ui/initialize", {
    protocolVersion: "2026-01-26",
    appInfo: {name: "binance-spot-mcp portfolio card", version: "1"},
    appCapabilities: {}
  }).then(function () { send({jsonrpc: "2.0", method: "ui/notifications/initialized", params: {}}); },
          function () { document.getElementById("status").textContent = "This host could not start the card."; });
})();
</script>
</body></html>
""".replace("__WIDTH__", str(CHART_WIDTH_PX))
