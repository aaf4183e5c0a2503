"""The measured scenarios: each alternates a baseline with our transfer API in a worker.

Times of ours are the duration of the ``save_artifact``/``load_artifact`` call inside the worker
(driver construction included, interpreter start and imports not); baselines are the wall time of
the command or loop. Peak RSS is ``ru_maxrss`` of the worker process; with several runs the
largest is reported, since a budget is about the worst case. CPU seconds (user + system) are
recorded for both sides — for a worker that is its whole process, imports included — and for
SeaweedFS during each S3 run, because on a small machine the server competes for the same cores.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import resource
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import (
    Run,
    WorkerRun,
    alternate,
    interrupt_on_signals,
    kill_children,
    median,
    mib,
    run_command,
    run_worker,
)
from bench.seaweed import Seaweed

SECRET_NAME = "bench-s3"


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_to_the_end(
    run: Callable[[contextlib.ExitStack[Any]], dict[str, Any]],
) -> dict[str, Any] | None:
    """``run``'s results, with everything it started (servers on its stack, worker processes)
    stopped and its work files removed however it ends; None, said so, when interrupted."""
    interrupt_on_signals()
    try:
        with contextlib.ExitStack() as stack:
            try:
                return run(stack)
            finally:
                kill_children()
    except KeyboardInterrupt:
        progress("interrupted; servers stopped and work files removed")
        return None


@dataclass
class Bench:
    """What every scenario needs: the server, a scratch dir, a log and how often to repeat."""

    server: Seaweed
    bucket: str
    scratch: Path
    log: Path
    runs: int

    def artifact(self, key: str, path: Path, archive: dict[str, Any] | None) -> dict[str, Any]:
        """An Argo artifact (camelCase, as in a workflow) at ``key`` in the bench bucket."""
        artifact: dict[str, Any] = {
            "name": "bench",
            "path": str(path),
            "s3": {
                "endpoint": self.server.endpoint,
                "bucket": self.bucket,
                "key": key,
                "insecure": True,
                "accessKeySecret": {"name": SECRET_NAME, "key": "accessKey"},
                "secretKeySecret": {"name": SECRET_NAME, "key": "secretKey"},
            },
        }
        if archive is not None:
            artifact["archive"] = archive
        return artifact

    def worker(
        self, op: str, path: Path, key: str, archive: dict[str, Any] | None = None
    ) -> WorkerRun:
        secrets = {
            SECRET_NAME: {"accessKey": self.server.access_key, "secretKey": self.server.secret_key}
        }
        job = {
            "op": op,
            "path": str(path),
            "artifact": self.artifact(key, path, archive),
            "secrets": secrets,
        }
        before = self.server.cpu_seconds()
        run = run_worker(job, log=self.log)
        return dataclasses.replace(run, server_cpu_seconds=self.server.cpu_seconds() - before)


def _files(root: Path) -> Iterator[Path]:
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            yield Path(folder) / name


def _inventory(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in _files(root)}


def verify_same_tree(expected: Path, actual: Path) -> None:
    """Same relative paths and sizes (a cheap check that the load put the tree where Argo does)."""
    want, got = _inventory(expected), _inventory(actual)
    if want != got:
        missing = sorted(set(want) - set(got))[:5]
        extra = sorted(set(got) - set(want))[:5]
        raise RuntimeError(f"loaded tree differs: missing {missing}, unexpected {extra}")


def _fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return path


def _seconds(runs: list[Run] | list[WorkerRun]) -> list[float]:
    return [r.seconds if isinstance(r, WorkerRun) else r.wall_seconds for r in runs]


def _peak_mib(runs: list[WorkerRun]) -> float:
    return max(mib(r.peak_rss_kib) for r in runs)


def _cpu(name: str, runs: list[Run] | list[WorkerRun]) -> dict[str, list[float]]:
    """CPU seconds of the client side (and of the server, where it was measured)."""
    cpu = {f"{name}_cpu_seconds": [r.cpu_seconds for r in runs]}
    server = [r.server_cpu_seconds for r in runs if r.server_cpu_seconds is not None]
    if server:
        cpu[f"{name}_server_cpu_seconds"] = server
    return cpu


def save_tree(bench: Bench, tree: Path, key: str) -> dict[str, Any]:
    """GNU ``tar -czf`` of the tree vs our save (default archive strategy: tar + gzip)."""
    out = bench.scratch / "baseline.tgz"

    def baseline(_: int) -> Run:
        _fresh(out)
        argv = ["tar", "-czf", str(out), "-C", str(tree.parent), tree.name]
        return run_command(argv, log=bench.log)

    def ours(_: int) -> WorkerRun:
        return bench.worker("save", tree, key)

    base, mine = alternate(bench.runs, baseline, ours)
    stored = bench.server.client().head_object(Bucket=bench.bucket, Key=key)["ContentLength"]
    return {
        "tar_czf_seconds": _seconds(base),
        "save_seconds": _seconds(mine),
        "save_process_seconds": [r.wall_seconds for r in mine],
        "save_peak_rss_mib": _peak_mib(mine),
        "tar_czf_archive_mib": out.stat().st_size / 2**20,
        "save_archive_mib": stored / 2**20,
        "save_ratio_vs_tar_czf": median(_seconds(mine)) / median(_seconds(base)),
        **_cpu("tar_czf", base),
        **_cpu("save", mine),
    }


def load_tree(bench: Bench, tree: Path, key: str) -> dict[str, Any]:
    """``tar -xzf`` of our stored object from local disk vs our load (download + extract)."""
    stored = bench.scratch / "stored.tgz"
    bench.server.client().download_file(bench.bucket, key, str(stored))

    def baseline(index: int) -> Run:
        dest = _fresh(bench.scratch / f"xzf-{index}")
        dest.mkdir()
        run = run_command(["tar", "-xzf", str(stored), "-C", str(dest)], log=bench.log)
        shutil.rmtree(dest)
        return run

    def ours(index: int) -> WorkerRun:
        dest = _fresh(bench.scratch / f"load-{index}")
        run = bench.worker("load", dest, key)
        if index == 0:
            verify_same_tree(tree, dest)
        shutil.rmtree(dest)
        return run

    base, mine = alternate(bench.runs, baseline, ours)
    return {
        "tar_xzf_seconds": _seconds(base),
        "load_seconds": _seconds(mine),
        "load_process_seconds": [r.wall_seconds for r in mine],
        "load_peak_rss_mib": _peak_mib(mine),
        "load_ratio_vs_tar_xzf": median(_seconds(mine)) / median(_seconds(base)),
        **_cpu("tar_xzf", base),
        **_cpu("load", mine),
    }


def single_file(
    bench: Bench, source: Path, key: str, archive: dict[str, Any] | None, runs: int
) -> dict[str, Any]:
    """Save then load one large file; peak RSS of each (and the time, for context)."""
    saves: list[WorkerRun] = []
    loads: list[WorkerRun] = []
    for index in range(runs):
        saves.append(bench.worker("save", source, key, archive))
        dest = _fresh(bench.scratch / "single-load")
        loads.append(bench.worker("load", dest, key, archive))
        if index == 0 and dest.stat().st_size != source.stat().st_size:
            raise RuntimeError(f"loaded {dest} has the wrong size")
        _fresh(dest)
    save_peak, load_peak = _peak_mib(saves), _peak_mib(loads)
    return {
        "save_seconds": _seconds(saves),
        "load_seconds": _seconds(loads),
        "save_peak_rss_mib": save_peak,
        "load_peak_rss_mib": load_peak,
        "peak_rss_mib": max(save_peak, load_peak),
    }


def dir_none(bench: Bench, folder: Path, key: str) -> dict[str, Any]:
    """A serial boto3 ``put_object`` loop over a directory vs our ``archive: none`` save."""
    client = bench.server.client()
    base_prefix = f"serial/{folder.name}"

    def baseline(_: int) -> Run:
        server, cpu = bench.server.cpu_seconds(), _own_cpu()
        start = time.perf_counter()
        for path in _files(folder):
            client.put_object(
                Bucket=bench.bucket,
                Key=f"{base_prefix}/{path.relative_to(folder)}",
                Body=path.read_bytes(),
            )
        return Run(
            wall_seconds=time.perf_counter() - start,
            peak_rss_kib=0,
            cpu_seconds=_own_cpu() - cpu,
            server_cpu_seconds=bench.server.cpu_seconds() - server,
        )

    def ours(index: int) -> WorkerRun:
        run = bench.worker("save", folder, key, {"none": {}})
        if index == 0:
            _verify_prefix(bench, key, sum(1 for _ in _files(folder)))
        return run

    base, mine = alternate(bench.runs, baseline, ours)
    return {
        "serial_put_seconds": _seconds(base),
        "dir_none_seconds": _seconds(mine),
        "dir_none_peak_rss_mib": _peak_mib(mine),
        "dir_none_speedup_vs_serial": median(_seconds(base)) / median(_seconds(mine)),
        **_cpu("serial_put", base),
        **_cpu("dir_none", mine),
    }


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _verify_prefix(bench: Bench, key: str, expected: int) -> None:
    paginator = bench.server.client().get_paginator("list_objects_v2")
    count = 0
    for page in paginator.paginate(Bucket=bench.bucket, Prefix=key.rstrip("/") + "/"):
        count += len(page.get("Contents", []))
    if count != expected:
        raise RuntimeError(f"archive: none stored {count} objects under {key}, expected {expected}")


def idle_worker(bench: Bench) -> dict[str, Any]:
    """RSS floors: a worker that only imports, and one that also makes one S3 request."""
    idle = bench.worker("idle", bench.scratch, "idle")
    probe = bench.worker("probe", bench.scratch, "idle")
    return {
        "worker_idle_rss_mib": mib(idle.peak_rss_kib),
        "worker_probe_rss_mib": mib(probe.peak_rss_kib),
        "worker_import_seconds": idle.report["import_seconds"],
    }
