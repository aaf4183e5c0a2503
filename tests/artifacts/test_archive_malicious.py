"""Every archive of the committed hostile corpus (tests/fixtures/malicious) is refused safely:
the right error code and message, nothing written outside the extraction root."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from artifacts.archive import unpack_to_staging
from artifacts.errors import ArtifactError
from tests.fixtures.make_malicious import BUILDERS, CASES, HERE

CORPUS = sorted(p.name for p in HERE.iterdir())


def test_the_corpus_matches_its_generator() -> None:
    assert set(CORPUS) == set(CASES) == set(BUILDERS)


@pytest.mark.parametrize("name", CORPUS)
def test_the_corpus_file_is_what_the_generator_makes(name: str) -> None:
    assert (HERE / name).read_bytes() == BUILDERS[name](), f"regenerate {name}"


def snapshot(root: Path) -> set[str]:
    return {os.path.join(r, n) for r, ds, fs in os.walk(root) for n in (*ds, *fs)}


@pytest.mark.parametrize("name", CORPUS)
def test_a_hostile_archive_is_refused_without_touching_anything_outside(
    tmp_path: Path, name: str
) -> None:
    case = CASES[name]
    # The staging dir sits three levels deep so even "../../.." lands inside tmp_path.
    work = tmp_path / "a" / "b" / "c"
    work.mkdir(parents=True)
    before = snapshot(tmp_path)
    staging = work / "dest.tmpdir"
    with pytest.raises(ArtifactError) as err:
        unpack_to_staging(
            io.BytesIO((HERE / name).read_bytes()),
            staging,
            "dest",
            fmt=case.fmt,  # type: ignore[arg-type]
            spool=work / "dest.tmp",
            limit=case.limit,
        )
    assert err.value.code.value == case.code, str(err.value)
    assert case.fragment in err.value.message
    escaped = {p for p in snapshot(tmp_path) - before if not p.startswith(str(staging))}
    assert escaped == set(), f"written outside the staging dir: {escaped}"
    assert not (work / "dest.tmp").exists()
    assert not staging.exists()
    assert not os.path.lexists("/tmp/argoexec-evil")
