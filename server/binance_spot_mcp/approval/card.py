"""The MCP Apps confirmation card (extension ``io.modelcontextprotocol/ui``).

For hosts that declare MCP Apps, every state-changing tool points at one ``ui://`` card. When a
mainnet change needs approval, the tool answers with the preview and a pending approval; the host
renders the card with that result; the human types CONFIRM in the card, and the card calls
``approve_request``, an app-only tool (``_meta.ui.visibility = ["app"]``), with the approval's id
and its secret.

What keeps the model out: the secret travels only in the result's ``_meta`` (hosts hand the model
the result's text content, the card the whole result); ``approve_request`` is listed only to hosts
that declared MCP Apps, marked app-only so they keep it from the model; and it needs both the id
and the secret, for this session, once, within 5 minutes, for a request whose account, key and
arguments are unchanged.
"""

from __future__ import annotations

from typing import Any

from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp.types import Resource, TextResourceContents, Tool, ToolAnnotations

APPROVE_TOOL = "approve_request"
CARD_URI = "ui://binance-spot-mcp/approval-card.html"
APPROVAL_META_KEY = "io.github.binance-spot-mcp/approval"
__all__ = ["APP_MIME_TYPE", "EXTENSION_ID"]

APPROVE_TOOL_DEF = Tool(
    name=APPROVE_TOOL,
    title="Approve a pending request",
    description="Approve or decline a pending Binance request from its confirmation card (app only).",
    input_schema={
        "type": "object",
        "properties": {
            "approval_id": {"type": "string"},
            "secret": {"type": "string"},
            "decision": {"type": "string", "enum": ["approve", "decline"]},
            "confirm": {"type": "string", "description": "CONFIRM, as the human typed it"},
        },
        "required": ["approval_id", "secret", "decision"],
        "additionalProperties": False,
    },
    annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=True),
    _meta={"ui": {"resourceUri": CARD_URI, "visibility": ["app"]}},
)

CARD_RESOURCE = Resource(
    uri=CARD_URI,
    name="approval-card",
    title="Binance approval card",
    description="Shows a pending Binance request and lets the human approve it by typing CONFIRM.",
    mime_type=APP_MIME_TYPE,
)


def with_card(tool: Tool) -> Tool:
    """``tool`` pointing at the confirmation card (for hosts that declared MCP Apps)."""
    meta = dict(tool.meta or {})
    meta["ui"] = {"resourceUri": CARD_URI}
    return tool.model_copy(update={"meta": meta})


def card_contents() -> TextResourceContents:
    return TextResourceContents(uri=CARD_URI, mime_type=APP_MIME_TYPE, text=CARD_HTML)


def card_meta(approval_id: str, secret: str) -> dict[str, Any]:
    """The result ``_meta`` the card reads its credentials from (never the model's text)."""
    return {APPROVAL_META_KEY: {"approval_id": approval_id, "secret": secret}}


# The card speaks the MCP Apps postMessage protocol (JSON-RPC 2.0 with the host): it initialises
# (following the host's theme and style variables from hostContext, and later
# ui/notifications/host-context-changed), receives the tool result, shows the server's summary as
# text (never as HTML: textContent only), reports its size (ui/notifications/size-changed), and
# calls approve_request. Afterwards it shows the outcome the server wrote (structuredContent.outcome)
# as a state of its own. A mistyped CONFIRM asks again here; the server still declines one for good.
CARD_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Approve a Binance request</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>
:root{--bg:var(--color-background-primary,#fff);--fg:var(--color-text-primary,#1b1b1b);
--muted:var(--color-text-secondary,#444);--line:var(--color-border-primary,#888);--cell:#fff8d6;--celltext:#1b1b1b;
--pre:#f4f4f4;--accent:#0b57d0;--danger:#b00020;--ok:#137333;color-scheme:light}
:root[data-theme=dark]{--bg:var(--color-background-primary,#121212);--fg:var(--color-text-primary,#eee);
--muted:var(--color-text-secondary,#ccc);--line:var(--color-border-primary,#777);--cell:#3a3200;--celltext:#fff;
--pre:#1e1e1e;--accent:#8ab4f8;--danger:#f28b82;--ok:#81c995;color-scheme:dark}
*{box-sizing:border-box}
body{font:16px/1.5 var(--font-sans,system-ui,-apple-system,"Segoe UI",sans-serif);margin:0;padding:12px;
background:var(--bg);color:var(--fg)}
.top{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:0 0 6px}
.badge{font-weight:700;padding:3px 10px;border-radius:6px}
.badge.mainnet{background:#b00020;color:#fff}.badge.testnet{border:1px solid var(--accent);color:var(--accent)}
.code{font-family:ui-monospace,monospace;font-weight:700;border:1px solid var(--line);border-radius:6px;padding:2px 8px}
h1{font-size:1.2rem;line-height:1.35;margin:4px 0 10px}
ol{margin:0 0 10px;padding-left:1.4rem}li{margin:0 0 4px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0 0 10px}dt{font-weight:600}dd{margin:0}
form{margin:10px 0;padding:10px;border:2px solid var(--fg);border-radius:10px}
label{display:block;font-weight:600;margin-bottom:6px}
input{font-size:1.2rem;width:100%;min-height:48px;padding:8px;border:2px solid var(--line);border-radius:8px;
background:var(--bg);color:var(--fg)}
.buttons{display:flex;flex-wrap:wrap;gap:12px;margin-top:10px}
button{font-size:1.05rem;min-height:48px;padding:10px 18px;border-radius:8px;cursor:pointer}
#approve{background:var(--accent);color:var(--bg);border:2px solid var(--accent);font-weight:700;flex:1 1 10rem}
#decline{background:var(--bg);color:var(--fg);border:2px solid var(--fg);flex:0 1 7rem}
.note,#hint{color:var(--muted);margin:6px 0}#hint{color:var(--danger);font-weight:600}
table{border-collapse:collapse;width:100%;table-layout:fixed;margin:4px 0 10px}
th{text-align:left;font-weight:600;width:38%;padding:6px 8px;border:1px solid #c9a400;vertical-align:top}
td{font-family:ui-monospace,monospace;background:var(--cell);color:var(--celltext);border:1px dashed #c9a400;
padding:6px 8px;white-space:nowrap;overflow-x:auto}
h2{font-size:1rem;margin:12px 0 4px}
details{margin:10px 0}summary{cursor:pointer;font-weight:600;min-height:44px;padding:10px 0}
pre{font-size:.85rem;background:var(--pre);border:1px solid var(--line);padding:8px;white-space:pre;overflow-x:auto}
#state{font-size:1.05rem;padding:10px 12px;border-radius:8px;border:2px solid var(--line)}
#state[data-state=sent]{border-color:var(--ok)}#state[data-state=refused],#state[data-state=unknown]{border-color:var(--danger)}
footer{color:var(--muted);font-size:.9rem;border-top:1px solid var(--line);margin-top:12px;padding-top:6px}
</style></head>
<body>
<div class="top"><span id="badge" class="badge" hidden></span><span id="code" class="code" hidden></span></div>
<h1 id="headline">Waiting for the request...</h1>
<p id="state" hidden></p>
<p id="request" hidden></p>
<form id="form" hidden novalidate>
<label for="confirm">Type CONFIRM to send exactly this request</label>
<input type="text" id="confirm" autocomplete="off" autocapitalize="characters" spellcheck="false">
<p id="hint" hidden></p>
<div class="buttons"><button type="button" id="approve">Approve and send</button>
<button type="button" id="decline">Decline</button></div>
<p class="note" id="expiry"></p>
</form>
<ol id="legs" hidden></ol>
<dl id="facts" hidden></dl>
<div id="supplied-box" hidden><h2>Chosen by the assistant (shown exactly as given)</h2><table id="supplied"></table></div>
<details id="details" hidden><summary>Technical details</summary><pre id="preview"></pre></details>
<footer>Shown by <strong>binance-spot-mcp</strong>, the program your AI assistant uses for Binance;
nothing here comes from Binance's website.</footer>
<script>
(function () {
  "use strict";
  var nextId = 1, pending = {}, approval = null;
  var TITLES = {sent: "Sent", refused: "Refused by Binance", not_sent: "Not sent", unknown: "Outcome unknown"};
  function $(id) { return document.getElementById(id); }
  function put(el, value) { el.textContent = value === undefined || value === null ? "" : String(value); }
  function add(parent, tag, value) { var el = document.createElement(tag); put(el, value); parent.appendChild(el); return el; }
  function send(message) { window.parent.postMessage(message, "*"); }
  function request(method, params) {
    var id = nextId++;
    send({jsonrpc: "2.0", id: id, method: method, params: params});
    return new Promise(function (resolve, reject) { pending[id] = {resolve: resolve, reject: reject}; });
  }
  var lastSize = "";
  function reportSize() {
    // the content's own box: scrollHeight would never shrink below the frame the host already gave
    var box = document.documentElement.getBoundingClientRect();
    var size = {width: Math.ceil(box.width), height: Math.ceil(box.height)};
    var key = size.width + "x" + size.height;
    if (key === lastSize) { return; }
    lastSize = key;
    send({jsonrpc: "2.0", method: "ui/notifications/size-changed", params: size});
  }
  function applyContext(ctx) {
    if (!ctx || typeof ctx !== "object") { return; }
    if (ctx.theme === "dark" || ctx.theme === "light") { document.documentElement.setAttribute("data-theme", ctx.theme); }
    var vars = ctx.styles && ctx.styles.variables;
    if (vars && typeof vars === "object") {
      Object.keys(vars).forEach(function (name) {
        if (/^--[A-Za-z0-9-]+$/.test(name) && typeof vars[name] === "string") {
          document.documentElement.style.setProperty(name, vars[name]);
        }
      });
    }
    reportSize();
  }
  function fill(summary, data) {
    var badge = $("badge");
    if (summary.environment) {
      put(badge, summary.environment); badge.className = "badge " + (summary.mainnet ? "mainnet" : "testnet"); badge.hidden = false;
    }
    if (data.code) { put($("code"), "Request " + data.code); $("code").hidden = false; }
    put($("headline"), summary.headline || data.preview);
    (summary.legs || []).forEach(function (leg) { add($("legs"), "li", leg); });
    $("legs").hidden = !(summary.legs || []).length;
    var facts = (summary.facts || []).slice();
    if (summary.account) { facts.push({label: "Account", value: summary.account}); }
    facts.forEach(function (f) { add($("facts"), "dt", f.label); add($("facts"), "dd", f.value); });
    $("facts").hidden = !facts.length;
    (summary.supplied || []).forEach(function (c) {
      var row = document.createElement("tr"); add(row, "th", c.label).scope = "row"; add(row, "td", c.value);
      $("supplied").appendChild(row);
    });
    $("supplied-box").hidden = !(summary.supplied || []).length;
    put($("preview"), summary.details || data.preview); $("details").hidden = false;
  }
  function show(result) {
    var meta = (result && result._meta) || {};
    var creds = meta["io.github.binance-spot-mcp/approval"];
    var data = (result && result.structuredContent) || {};
    if (!creds || !data.preview) { put($("headline"), "Nothing to approve."); reportSize(); return; }
    approval = creds;
    fill(data.summary || {headline: String(data.preview).split("\\n")[0], details: data.preview}, data);
    put($("expiry"), "This card works once, until " + (data.expires_at || "5 minutes from now") +
        ". Closing it sends nothing.");
    $("form").hidden = false;
    reportSize();
  }
  function showOutcome(title, state, words) {
    $("form").hidden = true;
    if ($("request").hidden) { put($("request"), "The request: " + $("headline").textContent); $("request").hidden = false; }
    put($("headline"), title);
    var box = $("state"); put(box, words); box.setAttribute("data-state", state); box.hidden = false;
    reportSize();
  }
  function decide(decision) {
    if (!approval) { return; }
    if (decision === "approve" && !/^ *CONFIRM *$/.test($("confirm").value)) {
      put($("hint"), "Type CONFIRM in capital letters to approve, or press Decline."); $("hint").hidden = false;
      $("confirm").focus(); reportSize(); return;
    }
    var creds = approval; approval = null;
    showOutcome("Sending your decision...", "pending", "Waiting for the server.");
    request("tools/call", {name: "approve_request", arguments: {
      approval_id: creds.approval_id, secret: creds.secret, decision: decision, confirm: $("confirm").value
    }}).then(function (result) {
      var outcome = (result && result.structuredContent && result.structuredContent.outcome) || null;
      if (!outcome) {
        outcome = {state: "unknown", headline: "The server did not say what happened. Ask the assistant to check the order before trying again."};
      }
      var title = decision === "decline" ? "Declined" : (TITLES[outcome.state] || "Outcome unknown");
      showOutcome(title, outcome.state, outcome.headline);
    }, function (error) {
      showOutcome("Outcome unknown", "unknown", "The host could not deliver your decision (" +
        ((error && error.message) || "unknown error") + "). Ask the assistant to check before trying again.");
    });
  }
  // no form submission: a host's sandbox without allow-forms would swallow it (and its submit event)
  $("form").addEventListener("submit", function (event) { event.preventDefault(); });
  $("approve").addEventListener("click", function () { decide("approve"); });
  $("confirm").addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); decide("approve"); }
  });
  $("decline").addEventListener("click", function () { decide("decline"); });
  window.addEventListener("resize", reportSize);
  if (window.ResizeObserver) { new ResizeObserver(reportSize).observe(document.body); }
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
    if (msg.method === "ui/notifications/host-context-changed") { applyContext(msg.params); }
  });
  request("ui/initialize", {
    protocolVersion: "2026-01-26",
    appInfo: {name: "binance-spot-mcp approval card", version: "2"},
    appCapabilities: {}
  }).then(function (result) {
    applyContext(result && result.hostContext);
    send({jsonrpc: "2.0", method: "ui/notifications/initialized", params: {}});
    reportSize();
  }, function () { put($("headline"), "This host could not start the card."); });
})();
</script>
</body></html>
"""
