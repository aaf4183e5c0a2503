"""Loopback servers used as test fixtures. Everything binds 127.0.0.1 only."""
