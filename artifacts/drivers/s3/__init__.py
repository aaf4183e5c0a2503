"""S3 artifact driver (boto3/botocore): ``artifacts.drivers.s3:S3Driver`` in the registry.

Modules: ``options`` (artifact fields, encryption), ``client`` (credentials, one client per
operation), ``errors`` (classification), ``download``/``upload`` (transfers), ``driver``.
"""

from __future__ import annotations

from .driver import S3Driver

__all__ = ["S3Driver"]
