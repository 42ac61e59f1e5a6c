"""Pure decision rules (exits, sizing, entry gates): no I/O, identical in live and in backtests."""
