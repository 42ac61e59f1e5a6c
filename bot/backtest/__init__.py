"""Backtesting: the daemon's engine replayed over history, fast."""
