"""Deterministic benchmark inputs: the mixed ~450 MiB tree and single large files.

Generation has to be fast (seconds, not minutes) and repeatable, so text is built once as a small
set of 1 MiB log-like blocks from a seeded RNG and files are shuffled concatenations of those
blocks. Blocks are far larger than gzip's 32 KiB window, so a file compresses like its text, not
like a repetition. Random data comes from the same seeded RNG (``random.randbytes``).
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

MIB = 1024 * 1024
KIB = 1024

_WORD_TEXT = (
    "request response cache miss hit upstream latency worker queue shard replica commit "
    "rollback snapshot volume mount pod node container image pull retry backoff timeout "
    "deadline token session user order invoice payment shipped pending failed success "
    "alpha beta gamma delta epsilon artifact bucket object key prefix upload download "
    "checksum gzip tar stream buffer chunk part multipart region endpoint secret config "
    "metric counter gauge histogram span trace event watch list patch create delete update"
)
_WORDS: tuple[str, ...] = tuple(_WORD_TEXT.split())
_LEVELS = ("INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR")
_COMPONENTS = ("api", "scheduler", "executor", "store", "gateway", "auth", "billing")
_BLOCKS = 8  # distinct 1 MiB text blocks every text file is shuffled from


@dataclass(frozen=True)
class TreeSpec:
    """The shape of the mixed tree. ``full()`` is the issue's workload, ``quick()`` a smoke run."""

    text_files: int = 4
    text_file_mib: int = 64
    random_mib: int = 128
    small_files: int = 5000
    small_file_kib: int = 10
    seed: int = 20240601

    @classmethod
    def full(cls) -> TreeSpec:
        return cls()

    @classmethod
    def quick(cls) -> TreeSpec:
        return cls(text_files=2, text_file_mib=8, random_mib=8, small_files=500)

    @property
    def total_bytes(self) -> int:
        text = self.text_files * self.text_file_mib * MIB
        return text + self.random_mib * MIB + self.small_files * self.small_file_kib * KIB


def _log_block(rng: random.Random) -> bytes:
    """About 1 MiB of log/CSV-like lines, cut to exactly 1 MiB."""
    lines: list[str] = []
    size = 0
    second = rng.randrange(86400)
    while size < MIB:
        second += rng.randrange(3)
        words = " ".join(rng.choices(_WORDS, k=rng.randrange(4, 14)))
        line = (
            f"2024-06-01T{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
            f".{rng.randrange(1000):03d}Z,{rng.choice(_LEVELS)},{rng.choice(_COMPONENTS)},"
            f"{rng.randrange(1 << 32):08x},{rng.randrange(100000)},{words}\n"
        )
        lines.append(line)
        size += len(line)
    return "".join(lines).encode()[:MIB]


def text_blocks(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [_log_block(rng) for _ in range(_BLOCKS)]


def write_text_file(path: Path, blocks: list[bytes], mib: int, rng: random.Random) -> None:
    with path.open("wb") as out:
        for _ in range(mib):
            out.write(rng.choice(blocks))


def write_random_file(path: Path, size: int, rng: random.Random, *, period: int = 0) -> None:
    """``size`` random bytes; with ``period`` > 0, one random block of that size repeated
    (still incompressible for gzip, whose window is 32 KiB, but quick to write at GiB scale)."""
    chunk = 4 * MIB
    block = memoryview(rng.randbytes(period)) if period else None
    with path.open("wb") as out:
        written = 0
        while written < size:
            n = min(chunk, size - written)
            if block is None:
                out.write(rng.randbytes(n))
            else:
                offset = written % len(block)
                n = min(n, len(block) - offset)
                out.write(block[offset : offset + n])
            written += n


def _write_small_files(root: Path, spec: TreeSpec, blocks: list[bytes], rng: random.Random) -> None:
    size = spec.small_file_kib * KIB
    for index in range(spec.small_files):
        # Three levels of nesting, ~50 files per leaf directory, like a build output or dataset.
        folder = root / f"part-{index // 1000:02d}" / f"group-{index // 50 % 20:02d}"
        if index % 50 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        block = rng.choice(blocks)
        offset = rng.randrange(len(block) - size)
        (folder / f"record-{index:05d}.csv").write_bytes(block[offset : offset + size])


def generate_tree(parent: Path, spec: TreeSpec, name: str = "tree") -> Path:
    """Build (or reuse, if ``parent`` already holds one of the same spec) the mixed tree.

    Built under a temporary name and renamed at the end, so an interrupted run never leaves a
    half-written tree that a later run would take for a complete one."""
    root = parent / name
    stamp = parent / f".{name}.json"
    wanted = json.dumps(asdict(spec), sort_keys=True)
    if root.is_dir() and stamp.is_file() and stamp.read_text() == wanted:
        return root
    if root.exists():
        raise SystemExit(f"{root} exists but was not generated with this spec; remove it first")
    partial = parent / f".{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    rng = random.Random(spec.seed)
    blocks = text_blocks(spec.seed)
    (partial / "logs").mkdir(parents=True)
    for index in range(spec.text_files):
        write_text_file(partial / "logs" / f"app-{index}.log", blocks, spec.text_file_mib, rng)
    (partial / "blobs").mkdir()
    write_random_file(partial / "blobs" / "random.bin", spec.random_mib * MIB, rng)
    _write_small_files(partial / "records", spec, blocks, rng)
    partial.rename(root)
    stamp.write_text(wanted)
    return root


def generate_file(path: Path, size: int, seed: int) -> Path:
    """A single incompressible file of ``size`` bytes (a 64 MiB random block repeated)."""
    stamp = path.with_name(f".{path.name}.json")
    wanted = json.dumps({"size": size, "seed": seed})
    if path.is_file() and stamp.is_file() and stamp.read_text() == wanted:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    write_random_file(partial, size, random.Random(seed), period=64 * MIB)
    partial.replace(path)
    stamp.write_text(wanted)
    return path
