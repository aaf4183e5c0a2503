"""One artifact transfer in a process of its own, so its peak RSS is measured alone.

Run as ``python -m bench.worker``. The job arrives as one JSON object on stdin (so secrets never
appear in ``ps``)::

    {"op": "save" | "load" | "idle" | "probe", "artifact": {...Argo artifact, camelCase...},
     "secrets": {"<secret name>": {"<key>": "<value>"}}, "path": "...",
     "profile": "<optional path for cProfile stats>",
     "settings": {<optional TransferSettings fields, e.g. "download_chunk_size": 2097152>}}

and one JSON object is printed on stdout when it is done::

    {"op": ..., "seconds": <time of the save/load call>, "import_seconds": ...,
     "vmhwm_kib": <this process's peak RSS>, "result": {...}}

``idle`` imports everything a transfer would and does nothing: the RSS floor of the interpreter,
pydantic, boto3 and the project. ``probe`` also builds the driver and makes one request
(``is_directory``), so the floor includes a live SDK client. Imports (including the storage
driver's module) happen before the clock starts, since a long-running executor pays them once
per process, not per artifact.

Peak memory: Linux folds the RSS a process had *before* ``exec`` (for a child of the bench, the
bench's own RSS at fork time) into ``ru_maxrss``, which would hide a small worker behind a large
bench. So this module forks once more while it is still a bare interpreter (~10 MiB): the job runs
in that fresh child, and the parent reports the child's ``ru_maxrss`` from ``wait4``
(``ru_maxrss_kib``; it also covers any process the transfer itself starts and reaps).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def peak_rss_kib() -> int:
    """VmHWM (the kernel's high-water mark of resident memory) of this process, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _plain(value: object) -> object:
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _run(job: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    from argoexec.models import Artifact
    from artifacts.driver import DriverContext
    from artifacts.registry import driver_for, load_factory
    from artifacts.secrets import MappingSecretResolver
    from artifacts.settings import TransferSettings
    from artifacts.transfer import load_artifact, save_artifact

    artifact = Artifact.model_validate(job["artifact"])
    kind = artifact.location_kind()
    if kind is not None:
        load_factory(kind)
    ctx = DriverContext(
        secrets=MappingSecretResolver(job.get("secrets", {})),
        settings=TransferSettings(**job.get("settings", {})),
    )
    imported = time.perf_counter()
    op = job["op"]
    path = Path(job.get("path", "."))
    profiler = None
    if job.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    clock = time.perf_counter()
    result: object = None
    if op == "save":
        result = save_artifact(artifact, path, ctx)
    elif op == "load":
        result = load_artifact(artifact, path, ctx)
    elif op == "probe":
        result = driver_for(artifact, ctx).is_directory(artifact)
    elif op != "idle":
        raise SystemExit(f"unknown op {op!r}")
    seconds = time.perf_counter() - clock
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(job["profile"])
    return {
        "op": op,
        "seconds": seconds,
        "import_seconds": imported - started,
        "vmhwm_kib": peak_rss_kib(),
        "result": _plain(result),
    }


def _child(job: dict[str, Any], write_fd: int) -> None:
    """Run the job and send its report through ``write_fd``; never returns."""
    code = 0
    try:
        with os.fdopen(write_fd, "w") as out:
            out.write(json.dumps(_run(job)))
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stderr.flush()
        os._exit(code)


def main() -> int:
    job = json.loads(sys.stdin.read())
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(job, write_fd)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        text = pipe.read()
    _, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0 or not text:
        print(f"bench worker job failed with exit code {code}", file=sys.stderr)
        return code or 1
    report = json.loads(text)
    report["ru_maxrss_kib"] = int(usage.ru_maxrss)
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
