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


# The card speaks the MCP Apps postMessage protocol (JSON-RPC 2.0 with the host): it initialises,
# receives the tool result, shows the preview as text (never as HTML) and calls approve_request.
CARD_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Approve a Binance request</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;padding:12px;line-height:1.4}
pre{background:#f4f4f4;border:1px solid #ccc;padding:8px;white-space:pre-wrap;word-break:break-word}
input{font-size:1rem;padding:4px}button{font-size:1rem;margin:6px 6px 0 0}
</style></head>
<body>
<h2>Approve a Binance request</h2>
<p id="status">Waiting for the request...</p>
<pre id="preview"></pre>
<form id="form" hidden>
<label for="confirm">Type CONFIRM to approve:</label><br>
<input type="text" id="confirm" autocomplete="off">
<div><button type="submit" id="approve">Approve</button><button type="button" id="decline">Decline</button></div>
</form>
<script>
(function () {
  "use strict";
  var nextId = 1, pending = {}, approval = null;
  var statusEl = document.getElementById("status"), previewEl = document.getElementById("preview");
  var form = document.getElementById("form"), confirmEl = document.getElementById("confirm");
  function send(message) { window.parent.postMessage(message, "*"); }
  function request(method, params) {
    var id = nextId++;
    send({jsonrpc: "2.0", id: id, method: method, params: params});
    return new Promise(function (resolve, reject) { pending[id] = {resolve: resolve, reject: reject}; });
  }
  function show(result) {
    var meta = (result && result._meta) || {};
    var creds = meta["io.github.binance-spot-mcp/approval"];
    var data = (result && result.structuredContent) || {};
    if (!creds || !data.preview) { statusEl.textContent = "Nothing to approve."; return; }
    approval = creds;
    previewEl.textContent = data.preview;
    statusEl.textContent = "Read the request. Type CONFIRM only if you want exactly this.";
    form.hidden = false;
  }
  function decide(decision) {
    if (!approval) { return; }
    form.hidden = true;
    statusEl.textContent = "Sending your decision...";
    request("tools/call", {name: "approve_request", arguments: {
      approval_id: approval.approval_id, secret: approval.secret, decision: decision, confirm: confirmEl.value
    }}).then(function (result) {
      var text = (result && result.content && result.content[0] && result.content[0].text) || "";
      statusEl.textContent = (result && result.isError ? "Not sent: " : "Done: ") + text.slice(0, 400);
    }, function (error) { statusEl.textContent = "Failed: " + ((error && error.message) || "unknown error"); });
    approval = null;
  }
  form.addEventListener("submit", function (event) { event.preventDefault(); decide("approve"); });
  document.getElementById("decline").addEventListener("click", function () { decide("decline"); });
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
    appInfo: {name: "binance-spot-mcp approval card", version: "1"},
    appCapabilities: {}
  }).then(function () { send({jsonrpc: "2.0", method: "ui/notifications/initialized", params: {}}); },
          function () { statusEl.textContent = "This host could not start the card."; });
})();
</script>
</body></html>
"""
