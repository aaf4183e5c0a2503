"""The human-readable table (value, target, PASS/MISS) and the one-line JSON summary."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    """A headline number and its goal: ``at_most`` (≤) or ``at_least`` (≥)."""

    key: str
    limit: float
    at_most: bool = True
    unit: str = ""

    def verdict(self, value: float | None) -> str:
        if value is None:
            return "SKIP"
        ok = value <= self.limit if self.at_most else value >= self.limit
        return "PASS" if ok else "MISS"

    def describe(self) -> str:
        return f"{'<=' if self.at_most else '>='} {self.limit:g}{self.unit}"


TARGETS: tuple[Target, ...] = (
    Target("save_ratio_vs_tar_czf", 0.15),
    Target("load_ratio_vs_tar_xzf", 1.0),
    Target("save_peak_rss_mib", 64, unit=" MiB"),
    Target("load_peak_rss_mib", 64, unit=" MiB"),
    Target("rss_100mib_artifact_mib", 64, unit=" MiB"),
    Target("rss_2gib_artifact_mib", 64, unit=" MiB"),
    Target("rss_2gib_vs_100mib", 1.10),
    Target("dir_none_speedup_vs_serial", 8, at_most=False),
    Target("dir_none_speedup_vs_serial_rtt", 8, at_most=False),
    Target("dir_none_vs_best_peer", 1.0, at_most=False),
    Target("large_object_vs_best_peer", 1.0, at_most=False),
)

# Context worth seeing next to the verdicts (median seconds and sizes); no target.
CONTEXT: tuple[tuple[str, str], ...] = (
    ("tar_czf_seconds", "s"),
    ("save_seconds", "s"),
    ("save_process_seconds", "s"),
    ("tar_czf_archive_mib", "MiB"),
    ("save_archive_mib", "MiB"),
    ("tar_xzf_seconds", "s"),
    ("load_seconds", "s"),
    ("load_process_seconds", "s"),
    ("serial_put_seconds", "s"),
    ("dir_none_seconds", "s"),
    ("dir_none_peak_rss_mib", "MiB"),
    ("rss_100mib_save_seconds", "s"),
    ("rss_100mib_load_seconds", "s"),
    ("rss_2gib_save_seconds", "s"),
    ("rss_2gib_load_seconds", "s"),
    ("tar_czf_cpu_seconds", "s cpu"),
    ("save_cpu_seconds", "s cpu"),
    ("save_server_cpu_seconds", "s cpu"),
    ("tar_xzf_cpu_seconds", "s cpu"),
    ("load_cpu_seconds", "s cpu"),
    ("load_server_cpu_seconds", "s cpu"),
    ("serial_put_cpu_seconds", "s cpu"),
    ("serial_put_server_cpu_seconds", "s cpu"),
    ("dir_none_cpu_seconds", "s cpu"),
    ("dir_none_server_cpu_seconds", "s cpu"),
    ("serial_put_rtt_seconds", "s"),
    ("dir_none_up_rtt_seconds", "s"),
    ("serial_get_rtt_seconds", "s"),
    ("dir_none_down_rtt_seconds", "s"),
    ("dir_none_up_speedup_vs_serial_rtt", "x"),
    ("dir_none_down_speedup_vs_serial_rtt", "x"),
    ("dir_none_up_vs_best_peer", "x"),
    ("dir_none_down_vs_best_peer", "x"),
    ("large_object_up_vs_best_peer", "x"),
    ("large_object_down_vs_best_peer", "x"),
    ("worker_idle_rss_mib", "MiB"),
    ("worker_probe_rss_mib", "MiB"),
    ("worker_import_seconds", "s"),
    # Ours and each peer through the latency proxy (bench.net): seconds and peak RSS.
    *(
        (f"{case}_{tool}_{way}_{what}", unit)
        for case in ("dir_none", "large_object")
        for tool in ("ours", "s5cmd", "rclone")
        for way in ("up", "down")
        for what, unit in (("seconds", "s"), ("peak_rss_mib", "MiB"))
    ),
)


def _median(value: Any) -> float | None:
    if isinstance(value, list):
        ordered = sorted(value)
        if not ordered:
            return None
        middle = len(ordered) // 2
        if len(ordered) % 2:
            return float(ordered[middle])
        return float(ordered[middle - 1] + ordered[middle]) / 2
    return None if value is None else float(value)


def table(results: dict[str, Any]) -> str:
    """Verdict rows first, then context rows (lists of seconds shown as their median)."""
    lines = [f"{'measure':32} {'value':>10}  {'target':>12}  verdict", "-" * 68]
    for target in TARGETS:
        value = _median(results.get(target.key))
        shown = "-" if value is None else f"{value:.3f}"
        lines.append(
            f"{target.key:32} {shown:>10}  {target.describe():>12}  {target.verdict(value)}"
        )
    lines.append("")
    lines.append(f"{'context (median of runs)':32} {'value':>10}")
    for key, unit in CONTEXT:
        value = _median(results.get(key))
        if value is not None:
            lines.append(f"{key:32} {value:>10.3f} {unit}")
    return "\n".join(lines)


def summary_json(results: dict[str, Any]) -> str:
    """The whole result set on one line, with each target's verdict under ``verdicts``."""
    verdicts = {t.key: t.verdict(_median(results.get(t.key))) for t in TARGETS}
    return json.dumps({**results, "verdicts": verdicts}, sort_keys=True)
