"""Directory walks and tree digests that hold no per-file state (100,000-file directories)."""

from __future__ import annotations

from pathlib import Path

import pytest

from artifacts.streams import TreeDigest, sorted_regular_files, tree_digest


def test_sorted_regular_files_walks_in_the_order_of_sorted_paths_skipping_symlinks(
    tmp_path: Path,
) -> None:
    files = ["a/x", "a-b", "a.c/y", "ab/z/q", "b", "a/b/c"]
    for rel in files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    (tmp_path / "link").symlink_to(tmp_path / "b")
    (tmp_path / "dirlink").symlink_to(tmp_path / "a", target_is_directory=True)
    walked = [rel for rel, _ in sorted_regular_files(tmp_path)]
    assert walked == sorted(files)


def test_a_tree_digest_fed_in_order_equals_the_digest_of_the_whole_list() -> None:
    entries = [("a-b", "1" * 64), ("a/b", "2" * 64), ("b", "3" * 64)]
    digest = TreeDigest()
    for rel, sha in entries:
        digest.add(rel, sha)
    assert digest.hexdigest() == tree_digest(list(reversed(entries)))
    with pytest.raises(ValueError, match="out of order"):
        digest.add("a", "4" * 64)
