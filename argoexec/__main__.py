"""``python -m argoexec``: the same entry point as the installed ``argoexec`` script."""

from __future__ import annotations

import sys

from argoexec.cli import main

if __name__ == "__main__":
    sys.exit(main())
