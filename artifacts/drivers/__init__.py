"""Artifact drivers: one module per storage kind, each importing only its own SDK."""
