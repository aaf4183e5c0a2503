"""Scenarios over a link with round-trip time: the bench's ``Bench`` pointed at the latency proxy.

``dir_none_rtt``: the 5,000-file ``archive: none`` directory, up and down, ours (a worker process)
vs a serial boto3 loop. ``peers_dir`` and ``peers_object``: the same directory and one large
object, ours vs s5cmd and rclone. Runs alternate (baseline, ours, next tool...) so a drift of the
machine hits every side. Ratios are of medians; a headline ratio is the smaller of up and down,
since both directions have to meet the target.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.measure import Run, WorkerRun, median, mib
from bench.peers import Peer
from bench.scenarios import Bench, _files, _fresh, _own_cpu, _verify_prefix, verify_same_tree

NONE: dict[str, Any] = {"none": {}}


def _serial(bench: Bench, body: Callable[[], None]) -> Run:
    server, cpu = bench.server.cpu_seconds(), _own_cpu()
    start = time.perf_counter()
    body()
    return Run(
        wall_seconds=time.perf_counter() - start,
        peak_rss_kib=0,
        cpu_seconds=_own_cpu() - cpu,
        server_cpu_seconds=bench.server.cpu_seconds() - server,
    )


def dir_none_rtt(bench: Bench, folder: Path, key: str, runs: int) -> dict[str, Any]:
    """Serial ``put_object``/``get_object`` loops vs our ``archive: none`` save and load."""
    client = bench.server.client()
    files = list(_files(folder))
    serial_prefix = f"serial-rtt/{folder.name}"
    up: dict[str, list[float]] = {"serial": [], "ours": []}
    down: dict[str, list[float]] = {"serial": [], "ours": []}
    ours_rss: list[int] = []

    def put_all() -> None:
        for path in files:
            rel = path.relative_to(folder)
            client.put_object(
                Bucket=bench.bucket, Key=f"{serial_prefix}/{rel}", Body=path.read_bytes()
            )

    def get_all() -> None:
        dest = bench.scratch / "serial-rtt-get"
        for path in files:
            rel = path.relative_to(folder)
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            body = client.get_object(Bucket=bench.bucket, Key=f"{serial_prefix}/{rel}")["Body"]
            target.write_bytes(body.read())
        shutil.rmtree(dest)

    for index in range(runs):
        up["serial"].append(_serial(bench, put_all).wall_seconds)
        saved = bench.worker("save", folder, key, NONE)
        up["ours"].append(saved.seconds)
        if index == 0:
            _verify_prefix(bench, key, len(files))
        down["serial"].append(_serial(bench, get_all).wall_seconds)
        dest = _fresh(bench.scratch / "rtt-load")
        loaded = bench.worker("load", dest, key, NONE)
        if index == 0:
            verify_same_tree(folder, dest)
        shutil.rmtree(dest)
        down["ours"].append(loaded.seconds)
        ours_rss += [saved.peak_rss_kib, loaded.peak_rss_kib]
    up_x = median(up["serial"]) / median(up["ours"])
    down_x = median(down["serial"]) / median(down["ours"])
    return {
        "serial_put_rtt_seconds": up["serial"],
        "serial_get_rtt_seconds": down["serial"],
        "dir_none_up_rtt_seconds": up["ours"],
        "dir_none_down_rtt_seconds": down["ours"],
        "dir_none_rtt_peak_rss_mib": mib(max(ours_rss)),
        "dir_none_up_speedup_vs_serial_rtt": up_x,
        "dir_none_down_speedup_vs_serial_rtt": down_x,
        "dir_none_speedup_vs_serial_rtt": min(up_x, down_x),
    }


class _Tally:
    """Seconds and peak RSS per (tool, direction) over the runs."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = {}
        self.process_seconds: dict[str, list[float]] = {}
        self.rss_kib: dict[str, int] = {}

    def add(self, name: str, run: Run) -> None:
        seconds = run.seconds if isinstance(run, WorkerRun) else run.wall_seconds
        self.seconds.setdefault(name, []).append(seconds)
        self.process_seconds.setdefault(name, []).append(run.wall_seconds)
        self.rss_kib[name] = max(self.rss_kib.get(name, 0), run.peak_rss_kib)

    def report(self, case: str, peers: list[Peer]) -> dict[str, Any]:
        """Per tool and direction: seconds, process seconds, peak RSS; and the headline ratio
        of our throughput to the best peer's (the smaller over up and down)."""
        out: dict[str, Any] = {}
        for name, values in self.seconds.items():
            out[f"{case}_{name}_seconds"] = values
            out[f"{case}_{name}_process_seconds"] = self.process_seconds[name]
            out[f"{case}_{name}_peak_rss_mib"] = mib(self.rss_kib[name])
        ratios: dict[str, float] = {}
        for way in ("up", "down"):
            best = [median(self.seconds[f"{p.name}_{way}"]) for p in peers]
            if not best:
                continue
            ours = median(self.seconds[f"ours_{way}"])
            ours_process = median(self.process_seconds[f"ours_{way}"])
            ratios[way] = min(best) / ours
            out[f"{case}_{way}_vs_best_peer"] = ratios[way]
            out[f"{case}_{way}_vs_best_peer_process"] = min(best) / ours_process
        out[f"{case}_vs_best_peer"] = min(ratios.values()) if ratios else None
        return out


def peers_dir(bench: Bench, folder: Path, key: str, peers: list[Peer], runs: int) -> dict[str, Any]:
    """The directory up and down: ours (``archive: none``) and each peer, alternating."""
    tally = _Tally()
    count = sum(1 for _ in _files(folder))
    for index in range(runs):
        tally.add("ours_up", bench.worker("save", folder, key, NONE))
        dest = _fresh(bench.scratch / "peer-dir-down")
        tally.add("ours_down", bench.worker("load", dest, key, NONE))
        shutil.rmtree(dest)
        for peer in peers:
            prefix = f"peers/{peer.name}-{index}/{folder.name}"
            tally.add(f"{peer.name}_up", peer.run(peer.dir_up(folder, prefix), bench.log))
            if index == 0:
                _verify_prefix(bench, prefix, count)
            dest = _fresh(bench.scratch / "peer-dir-down")
            tally.add(f"{peer.name}_down", peer.run(peer.dir_down(prefix, dest), bench.log))
            if index == 0:
                verify_same_tree(folder, dest)
            shutil.rmtree(dest)
    return tally.report("dir_none", peers)


def peers_object(
    bench: Bench, source: Path, key: str, peers: list[Peer], runs: int
) -> dict[str, Any]:
    """One large object up and down: ours (``archive: none``) and each peer, alternating."""
    tally = _Tally()
    size = source.stat().st_size
    dest = bench.scratch / "peer-object-down"
    client = bench.server.client()
    for index in range(runs):
        tally.add("ours_up", bench.worker("save", source, key, NONE))
        tally.add("ours_down", bench.worker("load", _fresh(dest), key, NONE))
        _check_size(dest, size, "ours")
        for peer in peers:
            # A fresh key per run: rclone skips a copy whose destination looks the same.
            peer_key = f"peers/{peer.name}-{index}/{source.name}"
            tally.add(f"{peer.name}_up", peer.run(peer.object_up(source, peer_key), bench.log))
            run = peer.run(peer.object_down(peer_key, _fresh(dest)), bench.log)
            tally.add(f"{peer.name}_down", run)
            _check_size(dest, size, peer.name)
            client.delete_object(Bucket=bench.bucket, Key=peer_key)
    _fresh(dest)
    report = tally.report("large_object", peers)
    report["large_object_mib"] = size / 2**20
    return report


def _check_size(path: Path, size: int, who: str) -> None:
    if not path.is_file() or path.stat().st_size != size:
        raise RuntimeError(f"{who}: downloaded {path} is missing or has the wrong size")
