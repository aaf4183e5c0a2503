"""The example workflows on the podman runtime, checked against EXPECTED.yaml.

The examples name public images no registry here can give: they run on copies (in a temporary
directory, with the files their ``args`` name: ``examples/workflows/templates``, the secrets)
whose images are the local stand-ins below. No image is ever tagged with a public name.

The runs are independent: they start together on a small thread pool when the first test of
this module needs one (only the selected ones), each an ``argoexec run`` process; each test
waits for its own run and applies the same checks as the local runtime's
(`tests.controller.test_examples.check_expected`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.controller.test_examples import EXAMPLES, EXPECTED, cases, check_expected, run_ids
from tests.podman.images import (
    BASE_IMAGE,
    BUSYBOX_IMAGE,
    CONTAINERS_CONF,
    PYTHON_IMAGE,
    require_image,
)
from tests.podman.workflows import RunProcess

pytestmark = pytest.mark.podman

# Public image -> the local image standing in for it.
STAND_INS = {
    "alpine:3.20": BUSYBOX_IMAGE,
    "python:3.12-alpine": PYTHON_IMAGE,
    "debian:12": BASE_IMAGE,
    "bash:5.2": BASE_IMAGE,
    # Argo's examples (adapted to give a `command`) run `sh` or `echo` in these.
    "alpine:latest": BUSYBOX_IMAGE,
    "busybox": BUSYBOX_IMAGE,
    "docker/whalesay:latest": BUSYBOX_IMAGE,
    "argoproj/argosay:v2": BUSYBOX_IMAGE,
}

# Runs that cannot pass on podman, with the reason (they are not run).
EXCLUDED: dict[str, str] = {
    # podman 4.3's `kube play` does not create a container's workingDir that the image lacks
    # (the kubelet's runtimes do): the pod fails with podman's "workdir ... does not exist"
    # (StartError), which test_podman_emissary checks.
    "container-filesystem": "podman 4.3 kube play does not create a missing workingDir",
    # A known difference of ours: the podman runtime resolves every container's environment
    # before it plays the pod, so main's missing Secret fails the pod before init runs and
    # the message names init ("Pod failed before init container starts ..."); the kubelet
    # (and the local runtime) run init first and name main.
    "env-from-2": "a missing Secret of main is reported against init (env resolved up front)",
    # The podman runtime plays pods on the host's network: the two sidecars of this example
    # cannot both listen on port 80 (the local runtime gives each pod its own network).
    "sidecar-nginx": "pods share the host's network: two sidecars cannot both use port 80",
    # Likewise its two daemons both listen on port 80.
    "dag-daemon-task": "pods share the host's network: two daemons cannot both use port 80",
}

# Examples run at once. Measured on 2 CPUs (this module, 40 runs): 2 at once 157 s, 3 at once
# 132 s, 4 at once 130 s, 6 at once 127 s.
WORKERS = 4


def _copy_examples(root: Path) -> Path:
    """``examples/workflows`` under ``root`` with the stand-in images; ``root`` is the
    directory to run from (the ``args``' paths are relative to the repository's root)."""
    copy = root / "examples" / "workflows"
    shutil.copytree(EXAMPLES, copy)
    for path in copy.rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        for public, local in STAND_INS.items():
            text = text.replace(f"image: {public}", f"image: {local}")
        assert not any(f"image: {public}" in text for public in STAND_INS)
        path.write_text(text, encoding="utf-8")
    return root


def _selected_ids(session: pytest.Session) -> list[str]:
    return [
        item.callspec.id
        for item in session.items
        if isinstance(item, pytest.Function)
        and item.originalname == "test_example_on_podman"
        and hasattr(item, "callspec")
    ]


@pytest.fixture(scope="module")
def example_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[Any]]]:
    """Every selected example, started on the pool: run id -> the future of its `Run`."""
    for image in {*STAND_INS.values()}:
        require_image(image)
    assert CONTAINERS_CONF.exists()
    root = _copy_examples(tmp_path_factory.mktemp("podman-examples"))
    entries = dict(zip(run_ids(EXPECTED), EXPECTED, strict=True))
    wanted = [i for i in _selected_ids(request.session) if i not in EXCLUDED]
    echo_url = ""
    if any("$ECHO_URL" in a for i in wanted for a in entries[i].get("args", [])):
        echo_url = request.getfixturevalue("_echo_server").url

    def run(run_id: str) -> Any:
        entry = entries[run_id]
        state = root / "state" / run_id
        return RunProcess(
            root / "examples" / "workflows" / entry["file"],
            *(a.replace("$ECHO_URL", echo_url) for a in entry.get("args", [])),
            state=state,
            cwd=root,
        ).finish()

    with ThreadPoolExecutor(WORKERS, thread_name_prefix="podman-example") as pool:
        futures = {run_id: pool.submit(run, run_id) for run_id in wanted}
        yield futures
        for future in futures.values():
            future.cancel()


def _podman_cases() -> list[Any]:
    out = []
    for param in cases():
        run_id = param.id
        marks = list(param.marks)
        if run_id in EXCLUDED:
            marks.append(pytest.mark.skip(reason=f"podman: {EXCLUDED[run_id]}"))
        out.append(pytest.param(*param.values, id=run_id, marks=marks))
    return out


@pytest.mark.parametrize("entry", _podman_cases())
def test_example_on_podman(
    entry: dict[str, Any],
    request: pytest.FixtureRequest,
    example_runs: dict[str, Future[Any]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONTAINERS_CONF", str(CONTAINERS_CONF))
    run_id = request.node.callspec.id
    run = example_runs[run_id].result()
    check_expected(run, entry, capsys)


def test_the_copies_name_only_local_images(tmp_path: Path) -> None:
    root = _copy_examples(tmp_path)
    images = set()
    for path in (root / "examples" / "workflows").rglob("*.yaml"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip().startswith("image:"):
                images.add(line.split(":", 1)[1].strip())
    assert images == {BUSYBOX_IMAGE, PYTHON_IMAGE, BASE_IMAGE}
    # The originals are untouched.
    assert "image: alpine:3.20" in (EXAMPLES / "hello-world.yaml").read_text(encoding="utf-8")
