"""Scale of the artifact layer against SeaweedFS on loopback.

    python -m bench.artifact_scale [--json] [--quick] [--keep] [--only files,large]
                                   [--counts 10000,100000] [--large-mib 4096] [--workdir DIR]

``files``: a directory of many small files (10,000 and 100,000 by default), saved and loaded with
``archive: none`` (one object per file) and with the default tar+gzip archive, each operation in
a fresh worker process (``bench.worker``). Per case: seconds of the save/load call and the
worker's peak RSS; then the growth from the smallest to the largest count, time and RSS. Linear
or better means a time ratio no larger than the count ratio and an RSS ratio near 1.

``large``: one object (4 GiB by default, a repeated 64 MiB random block so generating it is cheap)
loaded with parallel ranged GETs (our default settings) and with a single-stream GET (the same
code with the parallel threshold above the object's size), alternated in the same run:
throughput of each, the ratio, and the peak RSS of each worker.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import seaweed
from bench.measure import WorkerRun, median, mib, run_worker
from bench.scenarios import SECRET_NAME, Bench, progress, run_to_the_end
from bench.tree import MIB, generate_file

BUCKET = "bench"
SCENARIOS = ("files", "large")
ARCHIVES: dict[str, dict[str, Any] | None] = {"none": {"none": {}}, "tar": None}
FILES_PER_DIR = 100
# The single-stream baseline: the parallel path is taken only from this size on.
NEVER = 1 << 62


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.artifact_scale", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--quick", action="store_true", help="1,000/10,000 files, 512 MiB object")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--counts", help="comma list of file counts (default 10000,100000)")
    parser.add_argument("--file-bytes", type=int, default=1024, help="size of each small file")
    parser.add_argument("--large-mib", type=int, help="size of the large object (default 4096)")
    parser.add_argument("--runs", type=int, default=2, help="alternations of the large load")
    parser.add_argument("--workdir", type=Path, help="where inputs are generated and reused")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma list of files, large")
    args = parser.parse_args(argv)
    args.only = {s.strip() for s in args.only.split(",") if s.strip()}
    if unknown := args.only - set(SCENARIOS):
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    default_counts = "1000,10000" if args.quick else "10000,100000"
    args.counts = sorted(int(c) for c in (args.counts or default_counts).split(","))
    if args.large_mib is None:
        args.large_mib = 512 if args.quick else 4096
    return args


def generate_files(parent: Path, count: int, size: int) -> Path:
    """``count`` files of ``size`` bytes, ``FILES_PER_DIR`` per directory (reused when present)."""
    root = parent / f"files-{count}x{size}"
    stamp = parent / f".{root.name}.done"
    if root.is_dir() and stamp.is_file():
        return root
    shutil.rmtree(root, ignore_errors=True)
    block = random.Random(count).randbytes(64 * 1024).hex().encode()
    for index in range(count):
        folder = root / f"d-{index // FILES_PER_DIR:05d}"
        if index % FILES_PER_DIR == 0:
            folder.mkdir(parents=True)
        offset = (index * 7919) % (len(block) - size)
        (folder / f"f-{index:07d}.txt").write_bytes(block[offset : offset + size])
    stamp.touch()
    return root


def count_files(root: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(root)) if root.is_dir() else int(root.exists())


def _worker(
    bench: Bench,
    op: str,
    path: Path,
    key: str,
    archive: dict[str, Any] | None,
    *,
    settings: dict[str, Any] | None = None,
) -> WorkerRun:
    secrets = {
        SECRET_NAME: {"accessKey": bench.server.access_key, "secretKey": bench.server.secret_key}
    }
    job: dict[str, Any] = {
        "op": op,
        "path": str(path),
        "artifact": bench.artifact(key, path, archive),
        "secrets": secrets,
    }
    if settings:
        job["settings"] = settings
    return run_worker(job, log=bench.log)


def _case(bench: Bench, source: Path, count: int, archive: str) -> dict[str, Any]:
    key = f"scale/{count}/{archive}" + ("" if archive == "none" else ".tgz")
    save = _worker(bench, "save", source, key, ARCHIVES[archive])
    dest = bench.scratch / f"load-{count}-{archive}"
    load = _worker(bench, "load", dest, key, ARCHIVES[archive])
    got = count_files(dest)
    shutil.rmtree(dest)
    if got != count:
        raise RuntimeError(f"load of {key} placed {got} files, expected {count}")
    name = f"{archive}_{count}"
    progress(
        f"{name}: save {save.seconds:.2f} s {mib(save.peak_rss_kib):.1f} MiB, "
        f"load {load.seconds:.2f} s {mib(load.peak_rss_kib):.1f} MiB"
    )
    return {
        f"{name}_save_seconds": save.seconds,
        f"{name}_save_peak_rss_mib": mib(save.peak_rss_kib),
        f"{name}_load_seconds": load.seconds,
        f"{name}_load_peak_rss_mib": mib(load.peak_rss_kib),
    }


def many_files(bench: Bench, inputs: Path, counts: list[int], size: int) -> dict[str, Any]:
    results: dict[str, Any] = {"file_counts": counts, "file_bytes": size}
    for count in counts:
        progress(f"{count} files of {size} B: generate")
        source = generate_files(inputs, count, size)
        for archive in ARCHIVES:
            progress(f"{count} files, archive {archive}: save + load")
            results.update(_case(bench, source, count, archive))
    small, large = counts[0], counts[-1]
    results["count_ratio"] = large / small
    for archive in ARCHIVES:
        for op in ("save", "load"):
            results[f"{archive}_{op}_time_growth"] = (
                results[f"{archive}_{large}_{op}_seconds"]
                / results[f"{archive}_{small}_{op}_seconds"]
            )
            results[f"{archive}_{op}_rss_growth"] = (
                results[f"{archive}_{large}_{op}_peak_rss_mib"]
                / results[f"{archive}_{small}_{op}_peak_rss_mib"]
            )
    return results


def large_object(bench: Bench, inputs: Path, size_mib: int, runs: int) -> dict[str, Any]:
    """Parallel ranged GETs (default settings) vs one streamed GET of the same object."""
    progress(f"large object {size_mib} MiB: generate and save")
    source = generate_file(inputs / f"large-{size_mib}mib.bin", size_mib * MIB, seed=size_mib)
    key = f"large/{size_mib}mib.bin"
    none = ARCHIVES["none"]
    saved = _worker(bench, "save", source, key, none)
    digest = saved.report["result"]["sha256"]
    # An archive: none load reports no digest (nothing streams through a hash): hash the file.
    variants = {"parallel": None, "single": {"parallel_download_threshold": NEVER}}
    runs_of: dict[str, list[WorkerRun]] = {name: [] for name in variants}
    for index in range(runs):
        for name, settings in variants.items():
            progress(f"large object: {name} load {index + 1}/{runs}")
            dest = bench.scratch / f"large-{name}"
            run = _worker(bench, "load", dest, key, none, settings=settings)
            with dest.open("rb") as loaded:
                got = hashlib.file_digest(loaded, "sha256").hexdigest()
            if got != digest:
                raise RuntimeError(f"{name} load of {key} differs from what was saved")
            dest.unlink()
            runs_of[name].append(run)
    results: dict[str, Any] = {
        "large_mib": size_mib,
        "large_save_seconds": saved.seconds,
        "large_save_peak_rss_mib": mib(saved.peak_rss_kib),
    }
    for name, done in runs_of.items():
        seconds = [r.seconds for r in done]
        results[f"large_{name}_seconds"] = seconds
        results[f"large_{name}_mib_per_s"] = size_mib / median(seconds)
        results[f"large_{name}_peak_rss_mib"] = max(mib(r.peak_rss_kib) for r in done)
    results["large_parallel_vs_single"] = (
        results["large_parallel_mib_per_s"] / results["large_single_mib_per_s"]
    )
    results["load_peak_rss_mib"] = results["large_parallel_peak_rss_mib"]
    return results


def _uptime() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, Any]:
    root = args.workdir.resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="scale-"))
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="scratch-", dir=root))
    if not args.keep:
        stack.callback(shutil.rmtree, root if args.workdir is None else scratch, True)
    inputs = root / "inputs"
    inputs.mkdir(exist_ok=True)
    progress(f"work directory {root}; starting SeaweedFS")
    server = stack.enter_context(seaweed.running(scratch / "seaweed", BUCKET))
    bench = Bench(server, BUCKET, scratch, scratch / "bench.log", 1)
    results: dict[str, Any] = {"quick": args.quick, "loadavg_start": _uptime()}
    started = time.perf_counter()
    if "files" in args.only:
        results.update(many_files(bench, inputs, args.counts, args.file_bytes))
    if "large" in args.only:
        results.update(large_object(bench, inputs, args.large_mib, args.runs))
        if not args.keep:
            (inputs / f"large-{args.large_mib}mib.bin").unlink(missing_ok=True)
    results["loadavg_end"] = _uptime()
    results["bench_seconds"] = time.perf_counter() - started
    return results


def verdicts(results: dict[str, Any]) -> dict[str, str]:
    """PASS/MISS per target: growth no worse than linear in time, RSS flat within 25 %;
    parallel ranged GETs faster than one stream; the load within 64 MiB."""
    limits = {"load_peak_rss_mib": 64.0, "large_parallel_vs_single": None}
    ratio = results.get("count_ratio")
    for archive in ARCHIVES:
        for op in ("save", "load"):
            limits[f"{archive}_{op}_time_growth"] = ratio
            limits[f"{archive}_{op}_rss_growth"] = 1.25
    out: dict[str, str] = {}
    for key, limit in limits.items():
        value = results.get(key)
        if value is None:
            out[key] = "SKIP"
        elif limit is None:
            out[key] = "PASS" if value > 1.0 else "MISS"
        else:
            out[key] = "PASS" if value <= limit else "MISS"
    return out


def _table(results: dict[str, Any]) -> str:
    rows = [
        f"{k:40} {v:.3f}" if isinstance(v, float) else f"{k:40} {v}" for k, v in results.items()
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run_to_the_end(lambda stack: run(args, stack))
    if results is None:
        return 130
    print(_table(results))
    if args.json:
        print(json.dumps({**results, "verdicts": verdicts(results)}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
