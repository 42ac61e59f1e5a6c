"""Venues: one protocol (base.py), implemented by the simulated market now and by the ccxt adapter
and the paper broker later."""
