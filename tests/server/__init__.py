"""Tests of the server wiring: the call pipeline and the send path (journal, send once, lost replies)."""
