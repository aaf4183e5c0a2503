"""Runnable examples of the project (each exercised by a test or `make demo`)."""
