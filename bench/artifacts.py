"""Artifact transfer benchmark against SeaweedFS on loopback.

    python -m bench.artifacts [--json] [--quick] [--keep] [--runs N] [--workdir DIR]
                              [--rtt-ms N] [--net-runs N] [--only SCENARIOS]

Measures our save/load of a mixed ~450 MiB tree against GNU tar run in the same invocation,
the peak RSS of the worker processes doing it (also for one 100 MiB and one 2 GiB file, to show
memory does not grow with artifact size), and ``archive: none`` of 5,000 small files against a
serial boto3 loop. Through a latency-injecting proxy (``--rtt-ms``, default 20: an object
store's round trip) it measures the same directory against serial boto3 loops
(``dir-none-rtt``) and, with the 2 GiB object (100 MiB with ``--quick``), against s5cmd and
rclone (``peers``). Prints a table with targets; ``--json`` adds one JSON object as the last line.
Nothing needs root: page caches are not dropped, so baselines and ours alternate and the median
of the runs is reported.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from artifacts.settings import TransferSettings
from bench import latency_proxy, net, peers, scenarios, seaweed
from bench.report import summary_json, table
from bench.scenarios import Bench, progress, run_to_the_end
from bench.tree import MIB, TreeSpec, generate_file, generate_tree

BUCKET = "bench"
SCENARIOS = ("save", "load", "single", "dir-none", "dir-none-rtt", "peers")
NET_SCENARIOS = frozenset({"dir-none-rtt", "peers"})
# The default archive strategy (no ``archive`` field) is tar+gzip; "none" uploads the file as is.
SINGLE_ARCHIVES: dict[str, dict[str, Any] | None] = {"tar": None, "none": {"none": {}}}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.artifacts", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--quick", action="store_true", help="small tree, no 2 GiB case")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--runs", type=int, default=3, help="runs per timed measurement")
    parser.add_argument(
        "--rss-runs", type=int, default=1, help="save+load runs per single-file RSS case"
    )
    parser.add_argument(
        "--single-archive",
        choices=sorted(SINGLE_ARCHIVES),
        default="tar",
        help="archive strategy for the single-file RSS cases (tar = the default strategy)",
    )
    parser.add_argument(
        "--rtt-ms", type=float, default=20.0, help="round trip added by the proxy (ms)"
    )
    parser.add_argument(
        "--net-runs",
        type=int,
        default=1,
        help="runs of the scenarios through the proxy (latency-bound, so steadier; a serial "
        "loop over 5,000 objects takes minutes per run)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="where inputs are generated (and reused on the next run); default: a temp dir",
    )
    parser.add_argument(
        "--only", default=",".join(SCENARIOS), help=f"comma list of {', '.join(SCENARIOS)}"
    )
    args = parser.parse_args(argv)
    args.only = {s.strip() for s in args.only.split(",") if s.strip()}
    if unknown := args.only - set(SCENARIOS):
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if args.runs < 1 or args.rss_runs < 1 or args.net_runs < 1:
        parser.error("--runs, --rss-runs and --net-runs must be at least 1")
    if args.rtt_ms < 0:
        parser.error("--rtt-ms must not be negative")
    return args


def _workdirs(args: argparse.Namespace, stack: contextlib.ExitStack) -> tuple[Path, Path]:
    """(inputs, scratch). A temp workdir goes entirely; a given one keeps its inputs for reuse."""
    if args.workdir is None:
        root = Path(tempfile.mkdtemp(prefix="argoexec-bench-"))
        if not args.keep:
            stack.callback(shutil.rmtree, root, ignore_errors=True)
        scratch = root / "scratch"
        scratch.mkdir()
    else:
        root = args.workdir.resolve()
        root.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="scratch-", dir=root))
        if not args.keep:
            stack.callback(shutil.rmtree, scratch, ignore_errors=True)
    inputs = root / "inputs"
    inputs.mkdir(exist_ok=True)
    progress(f"work directory {root}{' (kept)' if args.keep else ''}")
    if args.keep:
        stack.callback(progress, f"kept {root}")
    return inputs, scratch


def _single_files(bench: Bench, inputs: Path, args: argparse.Namespace) -> dict[str, Any]:
    archive = SINGLE_ARCHIVES[args.single_archive]
    sizes = {"100mib": 100 * MIB} if args.quick else {"100mib": 100 * MIB, "2gib": 2048 * MIB}
    results: dict[str, Any] = {"single_archive": args.single_archive}
    for label, size in sizes.items():
        progress(f"single {label} file: prepare, then save + load x{args.rss_runs}")
        source = generate_file(inputs / f"single-{label}.bin", size, seed=len(label) + size)
        got = scenarios.single_file(bench, source, f"single/{label}", archive, args.rss_runs)
        results[f"rss_{label}_artifact_mib"] = got.pop("peak_rss_mib")
        results.update({f"rss_{label}_{k}": v for k, v in got.items()})
    if "rss_2gib_artifact_mib" in results:
        ratio = results["rss_2gib_artifact_mib"] / results["rss_100mib_artifact_mib"]
        results["rss_2gib_vs_100mib"] = ratio
    else:
        results["rss_2gib_artifact_mib"] = None
    return results


def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, Any]:
    inputs, scratch = _workdirs(args, stack)
    spec = TreeSpec.quick() if args.quick else TreeSpec.full()
    progress(f"preparing tree ({spec.total_bytes / MIB:.0f} MiB) under {inputs}")
    tree = generate_tree(inputs, spec)
    progress("starting SeaweedFS")
    server = stack.enter_context(seaweed.running(scratch / "seaweed", BUCKET))
    bench = Bench(server, BUCKET, scratch, scratch / "bench.log", args.runs)
    results: dict[str, Any] = {
        "runs": args.runs,
        "quick": args.quick,
        "tree_mib": spec.total_bytes / MIB,
        "tree_files": spec.text_files + 1 + spec.small_files,
    }
    results.update(scenarios.idle_worker(bench))
    tree_key = "tree/tree.tgz"
    if "save" in args.only or "load" in args.only:
        progress(f"save: tar -czf vs save_artifact, {args.runs} runs each")
        results.update(scenarios.save_tree(bench, tree, tree_key))
    if "load" in args.only:
        progress(f"load: tar -xzf vs load_artifact, {args.runs} runs each")
        results.update(scenarios.load_tree(bench, tree, tree_key))
    if "single" in args.only:
        results.update(_single_files(bench, inputs, args))
    if "dir-none" in args.only:
        progress(f"archive none: serial put_object vs save_artifact, {args.runs} runs each")
        results.update(scenarios.dir_none(bench, tree / "records", "none/records"))
    if args.only & NET_SCENARIOS:
        results.update(_through_proxy(bench, stack, tree, inputs, args))
    return results


def _through_proxy(
    bench: Bench, stack: contextlib.ExitStack, tree: Path, inputs: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """The scenarios that need round-trip time: the same bench, its endpoint the proxy's."""
    proxy = stack.enter_context(
        latency_proxy.running(bench.server.s3_port, args.rtt_ms, bench.scratch / "proxy.log")
    )
    progress(f"latency proxy on 127.0.0.1:{proxy.port}, {args.rtt_ms:g} ms round trip")
    slow = Bench(
        dataclasses.replace(bench.server, s3_port=proxy.port),
        bench.bucket,
        bench.scratch,
        bench.log,
        args.net_runs,
    )
    results: dict[str, Any] = {"rtt_ms": args.rtt_ms, "net_runs": args.net_runs}
    folder = tree / "records"
    if "dir-none-rtt" in args.only:
        progress(f"archive none over {args.rtt_ms:g} ms: serial loops vs ours, x{args.net_runs}")
        results.update(net.dir_none_rtt(slow, folder, "rtt/records", args.net_runs))
    if "peers" in args.only:
        settings = TransferSettings()
        found, skipped = peers.configure(
            slow.server, bench.bucket, bench.scratch / "peers", settings
        )
        results["peers"] = [p.name for p in found]
        results["peers_skipped"] = skipped
        for name, why in skipped.items():
            progress(f"peer {name} skipped: {why}")
        progress(f"directory vs peers {', '.join(results['peers']) or '(none)'}")
        results.update(net.peers_dir(slow, folder, "peer-dir/records", found, args.net_runs))
        size = 100 * MIB if args.quick else 2048 * MIB
        label = "100mib" if args.quick else "2gib"
        source = generate_file(inputs / f"single-{label}.bin", size, seed=len(label) + size)
        progress(f"{size // MIB} MiB object vs peers")
        results.update(net.peers_object(slow, source, "peer-object/big.bin", found, args.net_runs))
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run_to_the_end(lambda stack: run(args, stack))
    if results is None:
        return 130
    print(table(results))
    if args.json:
        print(summary_json(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
