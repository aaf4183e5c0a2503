"""The sample tree the driver tests round-trip: nested, empty and unicode-named entries."""

from __future__ import annotations

from pathlib import Path


def make_tree(root: Path) -> Path:
    tree = root / "tree"
    (tree / "a" / "b" / "c").mkdir(parents=True)
    (tree / "empty-dir").mkdir()
    (tree / "top.txt").write_text("top\n")
    (tree / "a" / "b" / "c" / "deep.bin").write_bytes(bytes(range(256)) * 100)
    (tree / "a" / "ünïcødé 文件.txt").write_text("unicode name\n")
    (tree / "a" / "empty").write_bytes(b"")
    return tree
