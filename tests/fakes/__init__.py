"""Fake exchange servers on 127.0.0.1 that real client libraries (ccxt) talk to in tests."""
