"""SQLite persistence: the only package that builds queries. Rows never leave it."""
