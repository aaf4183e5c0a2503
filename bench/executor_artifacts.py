"""``argoexec init`` loading one 1 MiB S3 input artifact, against ``python -c pass``.

    python -m bench.executor_artifacts [--runs N] [--json]

``measure_init_s3(runs)`` is what ``bench.executor`` calls. A throw-away SeaweedFS on loopback
holds the object; the pod's secrets are files under a mapped ``/argo/secret`` (static keys, so the
AWS default chain is never consulted) and the environment has the same shape as
``bench.executor.measure_init``'s, plus ``ARGOEXEC_PATH_MAP`` for the pod's fixed paths. Nothing
disables the instance metadata service: a probe of 169.254.169.254 would show in the time.

Each process is started by a small launcher forked from a bare interpreter, which times the
child from fork to ``wait4`` and reads its peak RSS there, so neither the launcher's own start
nor the bench's memory is counted. ``python -c pass`` goes through the same launcher, alternating
with ``init`` run by run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.tree import MIB

BUCKET = "bench"
KEY = "inputs/one-mib.bin"
SECRET = "bench-s3"
# Forks, execs argv in the child; prints {"ms": fork to reaped, "maxrss_kib": the child's peak}.
_LAUNCHER = (
    "import json, os, sys, time\n"
    "start = time.perf_counter()\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execvp(sys.argv[1], sys.argv[1:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "ms = (time.perf_counter() - start) * 1000\n"
    "print(json.dumps({'ms': ms, 'maxrss_kib': usage.ru_maxrss}), file=sys.stderr)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def launch(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    """Wall milliseconds and peak RSS (KiB) of ``argv`` as one fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{argv[:4]} exited {done.returncode}: {done.stderr[-2000:]}")
    return dict(json.loads(done.stderr.strip().splitlines()[-1]))


def template(endpoint: str) -> dict[str, Any]:
    s3 = {
        "endpoint": endpoint,
        "bucket": BUCKET,
        "key": KEY,
        "insecure": True,
        "accessKeySecret": {"name": SECRET, "key": "accessKey"},
        "secretKeySecret": {"name": SECRET, "key": "secretKey"},
    }
    return {
        "name": "main",
        "container": {"image": "busybox", "command": ["true"]},
        "inputs": {"artifacts": [{"name": "data", "path": "/tmp/data.bin", "s3": s3}]},
    }


def pod_env(work: Path, run: int, endpoint: str) -> tuple[dict[str, str], Path]:
    """The environment of one init (as bench.executor's) and where its input will land."""
    from bench.executor import base_env

    pod = work / f"pod-{run}"
    mounts = {
        c: str(pod / n)
        for c, n in (
            ("/argo/inputs/artifacts", "inputs"),
            ("/argo/staging", "staging"),
            ("/mainctrfs", "mainctrfs"),
        )
    }
    mounts["/argo/secret"] = str(work / "secrets")
    env = base_env(work) | {
        "ARGO_TEMPLATE": json.dumps(template(endpoint)),
        "ARGOEXEC_VAR_RUN_DIR": str(pod / "var-run-argo"),
        "ARGOEXEC_PATH_MAP": json.dumps(mounts),
    }
    return env, pod / "inputs" / "data"


def _write_secrets(root: Path, access_key: str, secret_key: str) -> None:
    folder = root / "secrets" / SECRET
    folder.mkdir(parents=True)
    (folder / "accessKey").write_text(access_key)
    (folder / "secretKey").write_text(secret_key)


def measure_init_s3(runs: int) -> dict[str, Any]:
    """Median wall ms and max peak RSS of ``argoexec init`` with one 1 MiB S3 input."""
    from bench import seaweed

    work = Path(tempfile.mkdtemp(prefix="bench-init-s3-"))
    payload = os.urandom(MIB)
    passes, inits, rss = [], [], []
    try:
        with seaweed.running(work / "seaweed", BUCKET) as server:
            server.client().put_object(Bucket=BUCKET, Key=KEY, Body=payload)
            _write_secrets(work, server.access_key, server.secret_key)
            for run in range(runs):
                env, landed = pod_env(work, run, server.endpoint)
                passes.append(launch([sys.executable, "-c", "pass"], env)["ms"])
                got = launch([sys.executable, "-m", "argoexec", "init"], env)
                if landed.read_bytes() != payload:
                    raise RuntimeError(f"init did not load the input to {landed}")
                inits.append(got["ms"])
                rss.append(got["maxrss_kib"] / 1024)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "init_s3_ms": round(statistics.median(inits), 1),
        "init_s3_peak_rss_mib": round(max(rss), 1),
        "init_s3_python_pass_ms": round(statistics.median(passes), 1),
        "init_s3_runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.executor_artifacts")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args(argv)
    from bench.executor import report  # its targets are the ones this bench is judged by

    results = measure_init_s3(args.runs)
    report(results, list(results), as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
