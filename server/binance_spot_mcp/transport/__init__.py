"""transport wing (docstring to write)."""
