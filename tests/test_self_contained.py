"""The project needs nothing outside its own tree: no test, benchmark, build step or example names
a path of a particular machine or reaches out of the checkout.

Container paths (``/data``, ``/var/run/argo``, ``/mnt/out``...) are everywhere in the tree and
are fine: they name places inside a container. What is refused is a path that leads to this
machine's own files outside the checkout: an absolute path that exists here below a top-level
directory that is not part of the system (a schema file beside the checkout, a kube config in
someone's home), the checkout's own absolute location, ``Path(__file__).parents[N]``
climbing above the checkout, and ``../`` in build files.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Top-level directories of the system and of the executor's contract: paths below them are
# either the host's system (the same on every machine) or container paths.
SYSTEM_ROOTS = frozenset(
    {"bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "run", "sbin"}
    | {"sys", "tmp", "usr", "var", "argo", "mainctrfs"}
)
# Files that hold other projects' data, not ours to scan.
SKIPPED = ("tests/fixtures/malicious/", "tests/fixtures/argo/")
_ABSOLUTE = re.compile(r"""(?:^|[\s'"`(=,:\[])(/[A-Za-z0-9_.@+-]+(?:/[A-Za-z0-9_.@+-]+)+)""")
_PARENTS = re.compile(r"parents\[(\d+)\]")
_BUILD_FILES = ("Makefile", "Dockerfile", "pyproject.toml", ".ci/run")


def project_files() -> list[Path]:
    """Every file of the project: tracked, or new and not ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [
        REPO / name for name in listed if not name.startswith(SKIPPED) and (REPO / name).is_file()
    ]


def text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data[:4096]:
        return None
    return data.decode("utf-8", errors="replace")


def machine_paths(content: str) -> list[str]:
    """Absolute paths in ``content`` that lead to this machine's own files outside the
    checkout (or into the checkout by its absolute location)."""
    found = []
    for match in _ABSOLUTE.finditer(content):
        path = match.group(1).rstrip(".,:")
        top = path.split("/")[1]
        inside = Path(path) == REPO or REPO in Path(path).parents
        if inside or (top not in SYSTEM_ROOTS and Path(path).exists()):
            found.append(path)
    return found


def climbs_out(path: Path, content: str) -> list[str]:
    """``parents[N]`` of ``__file__`` that leaves the checkout: N counts from the file's own
    directory, so a file in ``tests/`` may go up to ``parents[1]``."""
    depth = len(path.relative_to(REPO).parts) - 1
    return [m.group(0) for m in _PARENTS.finditer(content) if int(m.group(1)) > depth]


def test_no_file_names_a_path_of_this_machine_outside_the_checkout() -> None:
    offenders = {}
    for path in project_files():
        content = text(path)
        if content is None:
            continue
        found = machine_paths(content)
        if path.suffix == ".py":
            found += climbs_out(path, content)
        if str(path.relative_to(REPO)) in _BUILD_FILES and "../" in content:
            found.append("../")
        if found:
            offenders[str(path.relative_to(REPO))] = found
    assert offenders == {}


def test_the_scan_finds_what_it_must(tmp_path: Path) -> None:
    """The checks themselves, on made-up content (so this file holds no offending path)."""
    here = str(tmp_path.parent.parent)  # exists on this machine, below /tmp: a system root
    assert machine_paths(f"x = '{here}/y'") == []
    repo_file = str(REPO / "pyproject.toml")
    assert machine_paths(f'open("{repo_file}")') == [repo_file]
    assert machine_paths("mountPath: /data/in\ncommand: [cat, /var/run/argo/x]") == []
    nested = REPO / "tests" / "controller" / "test_x.py"
    up = "Path(__file__).resolve().parents[{}]".format
    assert climbs_out(nested, up(2)) == []
    assert climbs_out(nested, up(3)) == [up(3).split(".")[-1]]
