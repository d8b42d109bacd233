"""Tests of approval."""
