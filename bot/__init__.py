"""Kestrel: a small, headless crypto trading daemon."""
