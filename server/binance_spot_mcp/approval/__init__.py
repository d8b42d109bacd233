"""The approval wing: who may approve a change to real money, and through which channel
(invariant 2).

Owns: what exactly is approved and the single-use records of it (``book``), the CONFIRM words,
the preview a human reads and the single-use proofs (``confirm``), the gate that picks a channel
(form or URL elicitation, the MCP Apps card, chat only where the operator opted in) and waits
for the answer (``gate``), the one-time approval page (``page``), and the card (``card``).

May use: the accounts wing (an approval is bound to an account's key and destination) and the
foundations. Never guard or streams: whether a call needs approval and what it costs is decided
before the gate is asked.

Offers: ``gate.ApprovalGate`` / ``ApprovalRequest`` / ``Asker``, ``book.Grant`` / ``Channel`` /
``request_digest``, ``confirm.preview``, ``card.with_card`` / ``APPROVE_TOOL``.
"""
