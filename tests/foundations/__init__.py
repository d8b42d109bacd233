"""Tests of the top-level modules the wings stand on: config, journal, redaction, results, safe files."""
