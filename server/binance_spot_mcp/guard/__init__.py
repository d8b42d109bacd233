"""The guard wing: the operator's guard rails on every state-changing request (invariant 7).

Owns: enforcement of the rules (``enforce``: symbol lists, per-order and 24-hour value caps, dry
run, checked before approval and again at send time under the account's lock), the rolling
24-hour total (``daily``: what counts -- everything not known unplaced -- and whose: the API
key's, per environment, never an entry name's), the kill switch
(``killswitch``: ``--trading off`` or the halt file), and ``get_safety_status`` (``safety``). The
rules themselves are data in the top-level ``policy`` module, read by config and accounts.

May use: the accounts and exchange wings (an order's value comes from the exchange's prices),
the catalog and the foundations (the journal holds the 24-hour totals). Never approval or streams.

Offers: ``enforce.Guard``, ``daily.recorded_spent`` / ``Owner`` / ``key_identity``, ``killswitch.state`` / ``halt`` / ``resume``,
``safety.safety_status`` / ``SAFETY_TOOL`` / ``describe_channel``.
"""
