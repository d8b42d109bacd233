"""The approval wing: who may approve a change to real money, and through which channel
(invariant 2).

Owns: what exactly is approved and the single-use records of it, kept after the decision until
they expire with what happened (``book``), the CONFIRM words, the technical preview and the
single-use proofs (``confirm``), the one summary in plain words a human reads everywhere
(``summary``), what happened to an approved request (``outcome``), what the host declared
(``asker``), the gate that picks a channel (form or URL elicitation, the MCP Apps card, chat only
where the operator opted in) and waits for the answer (``gate``), the one-time approval page
(``page``, its HTML in ``page_view``), and the card (``card``).

May use: the accounts wing (an approval is bound to an account's key and destination), the
exchange wing's order legs and public market facts and the catalog's endpoints (to describe a
request: ``summary``), and the foundations. Never guard or streams: whether a call needs approval
and what it costs is decided before the gate is asked.

Offers: ``gate.ApprovalGate`` / ``ApprovalRequest`` / ``Asker``, ``book.Grant`` / ``Channel`` /
``request_digest``, ``confirm.preview``, ``summary.describe`` / ``summarize_add`` / ``Summary``,
``card.with_card`` / ``APPROVE_TOOL``.
"""
