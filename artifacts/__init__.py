"""Artifact layer: drivers for S3, GCS, Git, HTTP/Artifactory and raw, archive handling, transfers.

Entry points for callers: ``artifacts.transfer.save_artifact`` / ``load_artifact`` (archive
strategy, retries, digests) and ``artifacts.registry.driver_for`` (the driver for a location).
Drivers are imported lazily so an S3-only pod never imports another cloud SDK.
"""
