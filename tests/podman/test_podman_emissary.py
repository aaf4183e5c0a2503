"""The pod contract's emissary behaviours on the podman runtime, in four kinds of image.

Every workflow here runs through ``argoexec run --runtime podman`` (`tests.podman.workflows`);
its user containers run with a read-only root (``readOnlyRootFilesystem``) as a random user
(``runAsUser``, the same for the whole session), in each of the four main images:

* busybox (a static shell, no libc), scratch (only ``/tool``, a static C program, as ENTRYPOINT:
  its templates give no ``command``, so the image's ENTRYPOINT is found through podman), python
  (the Debian base with python3), base (Debian minbase: glibc, a shell, no python).

Per image, one workflow (`behaviours`) has: a main exiting 3 (Failed, exit code 3, as Argo
reports it), stdout captured as ``outputs.result``, an output parameter and an output artifact
(a file in an emptyDir: the wait container reads it through ``/mainctrfs``), the same on a
writable root outside any volume (the emissary copies them for ``wait``), the artifact passed
to a next step, and ``activeDeadlineSeconds`` (Argo's deadline message). Another (`stop-*`)
sleeps until ``argoexec stop`` (another process) stops it: the controller execs
``/var/run/argo/argoexec kill 15 1`` in main through ``podman exec``, the emissary passes
SIGTERM to its child. Then: an ENTRYPOINT from ``--controller-config``, an image that is not
here (nothing is pulled) and a workingDir the image lacks.

All the workflows of the module start together (`started`, each its own ``argoexec run``
process): a workflow mostly waits for its pods.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from argoexec.controller.reconcile.context import STOP_MESSAGE
from tests.podman.images import (
    BASE_IMAGE,
    BUSYBOX_IMAGE,
    CONTAINERS_CONF,
    PYTHON_IMAGE,
    SCRATCH_IMAGE,
    podman,
    require_image,
)
from tests.podman.workflows import RunProcess, node_named, run_env
from tests.servers.procs import command_lines, wait_until

pytestmark = pytest.mark.podman

UID = random.randrange(10_000, 60_000)  # the containers' user, any but the image's
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"
# Per image, a sleep no other process has: the test finds the user's process by it.
NAPS = {
    key: f"{200 + i}.{random.randrange(10**5, 10**6)}"
    for i, key in enumerate(("busybox", "scratch", "python", "base"))
}


@dataclass(frozen=True)
class Image:
    """How a container of this image says, writes, reads, exits and sleeps: ``(command,
    args)`` pairs, a command of None meaning the image's ENTRYPOINT."""

    key: str
    name: str
    # A path on the container's own root that its user can write when the root is writable,
    # and that user (None: the session's random one).
    root_path: str
    root_user: int | None

    def say(self, text: str) -> dict[str, Any]:
        return self._run("say", text)

    def write(self, path: str, text: str) -> dict[str, Any]:
        return self._run("write", path, text)

    def read(self, path: str) -> dict[str, Any]:
        return self._run("read", path)

    def exit(self, code: int) -> dict[str, Any]:
        return self._run("exit", str(code))

    def sleep(self, seconds: str) -> dict[str, Any]:
        return self._run("sleep", seconds)

    def _run(self, what: str, *words: str) -> dict[str, Any]:
        if self.key == "scratch":  # /tool's sub-commands, after the image's ENTRYPOINT
            tool = {"say": "echo", "read": "cat"}.get(what, what)
            return {"args": [tool, *words]}
        if self.key == "python":
            code = {
                "say": "print({0!r})",
                "write": "open({0!r}, 'w').write({1!r})",
                "read": "print(open({0!r}).read())",
                "exit": "raise SystemExit({0})",
                "sleep": "import time; time.sleep({0})",
            }[what].format(*words)
            return {"command": ["python3", "-c", code]}
        if what == "write":
            return {"command": ["sh", "-c", f"printf '{words[1]}' > {words[0]}"]}
        if what == "exit":
            return {"command": ["sh", "-c", f"exit {words[0]}"]}
        return {"command": [{"say": "echo", "read": "cat"}.get(what, what), *words]}


IMAGES = [
    Image("busybox", BUSYBOX_IMAGE, "/tmp/out", 0),  # its /tmp is root's (0755)
    Image("scratch", SCRATCH_IMAGE, "/out", 0),  # nothing but /tool
    Image("python", PYTHON_IMAGE, "/tmp/out", None),
    Image("base", BASE_IMAGE, "/tmp/out", None),
]
BY_KEY = {image.key: image for image in IMAGES}


def _locked(user: int | None = UID, *, read_only: bool = True) -> dict[str, Any]:
    context: dict[str, Any] = {"runAsUser": UID if user is None else user}
    if read_only:
        context["readOnlyRootFilesystem"] = True
    return context


def _container(image: Image, run: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"image": image.name, **run, "securityContext": _locked(), **extra}


def behaviours(image: Image) -> dict[str, Any]:
    """Every behaviour of one pod, in one workflow: two step groups."""
    work = {"volumeMounts": [{"name": "work", "mountPath": "/work"}]}
    said = f"hello from {image.key}"
    main_steps: list[list[dict[str, Any]]] = [
        [
            {"name": "exit", "template": "exit", "continueOn": {"failed": True}},
            {"name": "say", "template": "say"},
            {"name": "produce", "template": "produce"},
            {"name": "produce-root", "template": "produce-root"},
            {"name": "deadline", "template": "deadline", "continueOn": {"failed": True}},
        ],
        [
            {
                "name": "consume",
                "template": "consume",
                "arguments": {
                    "parameters": [
                        {"name": "said", "value": "{{steps.say.outputs.result}}"},
                        {"name": "made", "value": "{{steps.produce.outputs.parameters.made}}"},
                    ],
                    "artifacts": [{"name": "in", "from": "{{steps.produce.outputs.artifacts.a}}"}],
                },
            },
            {
                "name": "consume-root",
                "template": "consume",
                "arguments": {
                    "parameters": [
                        {"name": "said", "value": "-"},
                        {"name": "made", "value": "{{steps.produce-root.outputs.parameters.made}}"},
                    ],
                    "artifacts": [
                        {"name": "in", "from": "{{steps.produce-root.outputs.artifacts.a}}"}
                    ],
                },
            },
        ],
    ]

    def outputs(path: str) -> dict[str, Any]:
        return {
            "parameters": [{"name": "made", "valueFrom": {"path": path}}],
            "artifacts": [{"name": "a", "path": path}],
        }

    root = image.root_path
    templates = [
        {"name": "main", "steps": main_steps},
        {"name": "exit", "container": _container(image, image.exit(3))},
        {"name": "say", "container": _container(image, image.say(said))},
        {
            "name": "produce",
            "container": _container(
                image, image.write("/work/out", f"made by {image.key}"), **work
            ),
            "outputs": outputs("/work/out"),
        },
        {
            "name": "produce-root",  # outside any volume: the emissary copies the outputs
            "container": {
                "image": image.name,
                **image.write(root, f"made on the root by {image.key}"),
                "securityContext": _locked(image.root_user, read_only=False),
            },
            "outputs": outputs(root),
        },
        {
            "name": "deadline",
            "activeDeadlineSeconds": 2,
            "container": _container(image, image.sleep("60")),
        },
        {
            "name": "consume",
            "inputs": {
                "parameters": [{"name": "said"}, {"name": "made"}],
                "artifacts": [{"name": "in", "path": "/in"}],
            },
            "container": _container(image, image.read("/in")),
        },
    ]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": f"behaviours-{image.key}"},
        "spec": {
            "entrypoint": "main",
            "volumes": [{"name": "work", "emptyDir": {}}],
            "templates": templates,
        },
    }


def sleeper(image: Image) -> dict[str, Any]:
    """One pod whose main sleeps (NAPS[key] seconds) until the workflow is stopped."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": f"stop-{image.key}"},
        "spec": {
            "entrypoint": "nap",
            "templates": [
                {"name": "nap", "container": _container(image, image.sleep(NAPS[image.key]))}
            ],
        },
    }


def _one_pod(name: str, container: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "container": container}]},
    }


# The scratch image's ENTRYPOINT is /tool: the configured one says something else, so the
# output tells which was used.
CONFIGURED = _one_pod(
    "configured-entrypoint",
    {"image": SCRATCH_IMAGE, "args": ["by", "config"], "securityContext": _locked()},
)
CONTROLLER_CONFIG = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "workflow-controller-configmap"},
    "data": {"images": yaml.safe_dump({SCRATCH_IMAGE: {"entrypoint": ["/tool", "echo", "set"]}})},
}
MISSING_LOCAL = "localhost/argoexec-test-missing:nope"
MISSING_NEVER = "registry.invalid/argoexec-test/missing:1"
MISSING = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"name": "missing-images"},
    "spec": {
        "entrypoint": "main",
        "templates": [
            {
                "name": "main",
                "steps": [
                    [
                        {"name": "local", "template": "local"},
                        {"name": "never", "template": "never"},
                    ]
                ],
            },
            {"name": "local", "container": {"image": MISSING_LOCAL, "command": ["true"]}},
            {
                "name": "never",
                "container": {
                    "image": MISSING_NEVER,
                    "imagePullPolicy": "Never",
                    "command": ["true"],
                },
            },
        ],
    },
}
NO_WORKDIR = _one_pod(
    "no-workdir",
    {**_container(BY_KEY["busybox"], BY_KEY["busybox"].say("x")), "workingDir": "/srv/none"},
)


@dataclass
class Started:
    runs: dict[str, RunProcess]


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    """Every workflow of the module, started at once."""
    for image in IMAGES:
        require_image(image.name)
    root = tmp_path_factory.mktemp("podman-emissary")
    config = root / "controller-config.yaml"
    config.write_text(yaml.safe_dump(CONTROLLER_CONFIG))
    documents: dict[str, tuple[dict[str, Any], list[str]]] = {
        **{f"behaviours-{i.key}": (behaviours(i), []) for i in IMAGES},
        **{f"stop-{i.key}": (sleeper(i), []) for i in IMAGES},
        "configured-entrypoint": (CONFIGURED, ["--controller-config", str(config)]),
        "missing-images": (MISSING, []),
        "no-workdir": (NO_WORKDIR, []),
    }
    runs = {}
    for name, (document, args) in documents.items():
        file = root / f"{name}.yaml"
        file.write_text(yaml.safe_dump(document, sort_keys=False))
        runs[name] = RunProcess(file, *args, state=root / "state" / name)
    try:
        yield Started(runs)
    finally:  # a run a failed test left going is terminated: its pods end too
        for name, run in runs.items():
            if run.proc.poll() is None:
                subprocess.run(
                    [sys.executable, "-m", "argoexec", "terminate", name],
                    env={**run_env(), "ARGOEXEC_STATE_DIR": str(run.state)},
                    capture_output=True,
                    timeout=120,
                    check=False,
                )
                run.proc.communicate(timeout=120)


@pytest.fixture(autouse=True)
def _podman_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTAINERS_CONF", str(CONTAINERS_CONF))


@pytest.mark.parametrize("key", [i.key for i in IMAGES])
def test_exit_codes_results_parameters_artifacts_and_deadlines(
    key: str, started: Started, capsys: pytest.CaptureFixture[str]
) -> None:
    run = started.runs[f"behaviours-{key}"].finish()
    summary = run.describe()
    assert run.status["phase"] == "Succeeded", summary

    exit_node = node_named(run, "WF[0].exit")
    assert exit_node["phase"] == "Failed", summary
    assert exit_node["outputs"]["exitCode"] == "3", summary
    assert exit_node["message"] == "main: Error (exit code 3)", summary  # Argo's words

    assert node_named(run, "WF[0].say")["outputs"]["result"] == f"hello from {key}", summary

    for step, made in (
        ("produce", f"made by {key}"),
        ("produce-root", f"made on the root by {key}"),
    ):
        produced = node_named(run, f"WF[0].{step}")
        assert produced["phase"] == "Succeeded", summary
        params = {p["name"]: p["value"] for p in produced["outputs"]["parameters"]}
        assert params == {"made": made}, summary
        assert [a["name"] for a in produced["outputs"]["artifacts"]] == ["a"], summary

    deadline = node_named(run, "WF[0].deadline")
    assert (deadline["phase"], deadline["message"]) == ("Failed", DEADLINE_MESSAGE), summary

    consume = node_named(run, "WF[1].consume")
    inputs = {p["name"]: p["value"] for p in consume["inputs"]["parameters"]}
    assert inputs == {"said": f"hello from {key}", "made": f"made by {key}"}, summary
    assert run.log(consume, capsys).startswith(f"made by {key}"), summary
    consume_root = node_named(run, "WF[1].consume-root")
    assert run.log(consume_root, capsys).startswith(f"made on the root by {key}"), summary


def _user_process(token: str) -> bool:
    """A process (in any container) whose command line holds ``token``."""
    return any(token in line and "argoexec" not in line for _, line in command_lines())


@pytest.mark.parametrize("key", [i.key for i in IMAGES])
def test_stopping_the_workflow_signals_main_through_the_emissary(
    key: str, started: Started
) -> None:
    process, nap = started.runs[f"stop-{key}"], NAPS[key]
    wait_until(lambda: _user_process(nap) or process.proc.poll() is not None, 120, "the sleep")
    assert process.proc.poll() is None, process.finish().describe()
    stop = subprocess.run(
        [
            sys.executable,
            "-m",
            "argoexec",
            "stop",
            f"stop-{key}",
            "--state-dir",
            str(process.state),
        ],
        env=run_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert stop.returncode == 0, stop.stderr
    run = process.finish()
    summary = run.describe()
    assert run.code == 1, summary
    node = node_named(run, "WF")
    assert (node["phase"], node["message"]) == ("Failed", STOP_MESSAGE), summary
    # 143: the sleep ended at the SIGTERM the emissary passed on (a pod killed at the end of
    # its grace period would say 137); how long that took depends on the machine's load.
    assert node["outputs"]["exitCode"] == "143", summary
    assert not _user_process(nap)


def test_an_entrypoint_from_the_controller_config(started: Started) -> None:
    run = started.runs["configured-entrypoint"].finish()
    summary = run.describe()
    assert run.status["phase"] == "Succeeded", summary
    assert node_named(run, "WF")["outputs"]["result"] == "set by config", summary


def test_an_image_that_is_not_here_fails_its_node_and_nothing_is_pulled(started: Started) -> None:
    run = started.runs["missing-images"].finish()
    summary = run.describe()
    assert run.status["phase"] == "Failed", summary
    # A localhost/ image is never pulled (no registry has it); the other says Never itself.
    for step, image in (("local", MISSING_LOCAL), ("never", MISSING_NEVER)):
        node = node_named(run, f"WF[0].{step}")
        assert node["phase"] == "Error", summary
        assert node["message"].startswith("Pod failed before"), summary
        never = (
            f'ErrImageNeverPull: Container image "{image}" is not present with pull policy of Never'
        )
        assert node["message"].endswith(never), summary
        assert podman("image", "exists", image).returncode == 1


def test_a_working_dir_the_image_lacks_fails_the_pod_with_podmans_reason(
    started: Started,
) -> None:
    run = started.runs["no-workdir"].finish()
    summary = run.describe()
    node = node_named(run, "WF")
    assert node["phase"] == "Error", summary
    assert "StartError" in node["message"], summary
    assert 'workdir "/srv/none" does not exist' in node["message"], summary


def test_the_workflows_are_what_the_tests_say() -> None:
    """Every user container runs read-only as the random user (but the writable-root step)."""
    for image in IMAGES:
        document = json.loads(json.dumps(behaviours(image)))
        containers = {
            t["name"]: t["container"] for t in document["spec"]["templates"] if "container" in t
        }
        for name, container in containers.items():
            context = container["securityContext"]
            if name == "produce-root":
                assert "readOnlyRootFilesystem" not in context
            else:
                assert context == {"runAsUser": UID, "readOnlyRootFilesystem": True}
            assert ("command" in container) == (image.key != "scratch")
