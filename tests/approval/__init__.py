"""Tests of the approval wing: approval records, CONFIRM, the channels (form, URL page, Apps card, chat), in a real browser too."""
