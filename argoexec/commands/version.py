"""``argoexec version``: Argo's version report, with Python in place of Go."""

from __future__ import annotations

import argparse
import json
import platform
import sys

import argoexec
from argoexec.commands import Invocation


def _info() -> dict[str, str]:
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return {
        "version": f"v{argoexec.__version__}",
        "pythonVersion": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": f"{sys.platform}/{machine}",
    }


def version(args: argparse.Namespace, inv: Invocation) -> int:
    info = _info()
    if args.short:
        inv.stdout.write(f"argoexec: {info['version']}\n")
    elif args.output == "json":
        inv.stdout.write(json.dumps(info) + "\n")
    else:
        inv.stdout.write(
            f"argoexec: {info['version']}\n"
            f"  PythonVersion: {info['pythonVersion']}\n"
            f"  Implementation: {info['implementation']}\n"
            f"  Platform: {info['platform']}\n"
        )
    return 0
