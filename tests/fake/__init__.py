"""Tests of fake."""
