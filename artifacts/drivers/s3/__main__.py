"""``python -m artifacts.drivers.s3 [ROOT]``: build the S3 driver's trimmed botocore data now
(install time: the Makefile and the Dockerfile run it), see ``botodata``."""

from __future__ import annotations

import sys

from .botodata import main

sys.exit(main())
