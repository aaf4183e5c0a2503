"""A legacy workflow pod end to end, every container a real process in a bubblewrap sandbox:
``argoexec init`` → main (the installed emissary running the user's script) → ``argoexec wait``.

Each container gets what Kubernetes would give it: a private ``/tmp``, the shared
``/var/run/argo``, the pod's volumes at their mount paths (main: ``/data``; wait: the
``/mainctrfs/data`` mirror), its own ``/dev/termination-log``, and — unless a test says
otherwise — uid 65534 with no capabilities and a read-only root filesystem. ``wait`` starts
before main, as in a pod, so it really waits. Artifacts go to a real S3 (moto) and are read back
with an independent client; the node result goes to a file (``ARGOEXEC_RESULT_FILE``).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from argoexec.contract import RESULT_MAX_BYTES
from argoexec.controller.sandbox import Mount
from argoexec.models import SecretKeySelector
from tests.sandboxing import container_argv
from tests.servers.backend import Backend
from tests.servers.kube import FakeKube
from tests.servers.procs import wait_until

REPO = Path(__file__).resolve().parents[2]
NOBODY = "65534"
RESULT_IN_POD = "/argo/result/result.json"
KUBECONFIG_IN_POD = "/argo/kube/config"
ZERO_DEADLINE = "0001-01-01T00:00:00Z"


@dataclass
class Run:
    main: subprocess.CompletedProcess[str]
    wait: subprocess.CompletedProcess[str]
    result: dict[str, Any]


@dataclass
class Pod:
    root: Path
    nonroot: bool = True

    def dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def termination_log(self, ctr: str) -> Path:
        path = self.root / f"termination-log-{ctr}"
        path.touch()
        return path

    @property
    def varrun(self) -> Path:
        return self.dir("var-run-argo")

    @property
    def volume(self) -> Path:
        return self.dir("user-volume")

    def result(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads((self.dir("result") / "result.json").read_text())
        return doc

    def sandbox(self, command: list[str], mounts: list[Mount]) -> list[str]:
        work = Path(tempfile.mkdtemp(prefix="container-", dir=self.root))
        return container_argv(command, mounts, work=work, nonroot=self.nonroot)

    def env(self, template: dict[str, Any], **extra: str) -> dict[str, str]:
        return {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(REPO),
            "PYTHONDONTWRITEBYTECODE": "1",
            "ARGO_POD_NAME": "wf-step-1234",
            "ARGO_NODE_ID": "wf-1234",
            "ARGO_WORKFLOW_NAME": "wf",
            "ARGO_TEMPLATE": json.dumps(template),
            "ARGO_DEADLINE": ZERO_DEADLINE,
            "ARGO_INCLUDE_SCRIPT_OUTPUT": "true",
            "AWS_EC2_METADATA_DISABLED": "true",
            **extra,
        }

    def init(self, template: dict[str, Any]) -> None:
        mounts = [
            Mount(self.varrun, "/var/run/argo"),
            Mount(self.dir("argo-staging"), "/argo/staging"),
            Mount(self.dir("inputs"), "/argo/inputs/artifacts"),
            Mount(self.dir("secrets"), "/argo/secret", read_only=True),
            Mount(self.volume, "/mainctrfs/data"),
            Mount(self.termination_log("init"), "/dev/termination-log"),
        ]
        argv = self.sandbox([sys.executable, "-m", "argoexec", "init"], mounts)
        done = subprocess.run(
            argv, env=self.env(template), capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr

    def start_wait(
        self, template: dict[str, Any], kubeconfig: Path | None = None, **env: str
    ) -> subprocess.Popen[str]:
        """The wait container; it reports to the result file, or with ``kubeconfig`` to the
        (fake) API server as a ``WorkflowTaskResult``."""
        mounts = [
            Mount(self.varrun, "/var/run/argo"),
            Mount(self.dir("secrets"), "/argo/secret", read_only=True),
            Mount(self.volume, "/mainctrfs/data"),
            Mount(self.dir("result"), "/argo/result"),
            Mount(self.termination_log("wait"), "/dev/termination-log"),
        ]
        if kubeconfig is not None:
            mounts.append(Mount(kubeconfig, KUBECONFIG_IN_POD, read_only=True))
            env = {"KUBECONFIG": KUBECONFIG_IN_POD, **env}
        else:
            env = {"ARGOEXEC_RESULT_FILE": RESULT_IN_POD, **env}
        argv = self.sandbox([sys.executable, "-m", "argoexec", "wait"], mounts)
        full_env = self.env(template, **env)
        return subprocess.Popen(
            argv, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def main(
        self, template: dict[str, Any], command: list[str], **env: str
    ) -> subprocess.CompletedProcess[str]:
        mounts = [
            Mount(self.varrun, "/var/run/argo"),
            Mount(self.dir("argo-staging"), "/argo/staging", read_only=True),
            Mount(self.volume, "/data"),
            Mount(self.termination_log("main"), "/dev/termination-log"),
        ]
        emissary = ["/var/run/argo/argoexec", "emissary", "--"]
        argv = self.sandbox([*emissary, *command], mounts)
        full_env = self.env(template, ARGO_CONTAINER_NAME="main", **env)
        return subprocess.run(argv, env=full_env, capture_output=True, text=True, timeout=120)

    def run(
        self,
        template: dict[str, Any],
        command: list[str],
        wait_env: dict[str, str] | None = None,
        kubeconfig: Path | None = None,
    ) -> Run:
        self.init(template)
        wait = self.start_wait(template, kubeconfig, **(wait_env or {}))
        try:
            main = self.main(template, command)
            out, err = wait.communicate(timeout=120)
        finally:
            if wait.poll() is None:
                wait.kill()
                wait.communicate()
        done = subprocess.CompletedProcess(wait.args, wait.returncode, out, err)
        result = self.result() if kubeconfig is None else {}
        return Run(main, done, result)


@pytest.fixture
def pod(tmp_path: Path) -> Pod:
    return Pod(tmp_path / "pod")


def s3_location(pod: Pod, backend: Backend, key: str = "wf/wf-step-1234") -> dict[str, Any]:
    """The backend's S3 location with its credentials placed in the pod's /argo/secret."""
    s3 = backend.artifact(key).to_wire()["s3"]
    for ref in (s3["accessKeySecret"], s3["secretKeySecret"]):
        value = backend.ctx.secrets.resolve(SecretKeySelector.model_validate(ref))
        (pod.dir(f"secrets/{ref['name']}") / ref["key"]).write_text(value)
    return {"s3": s3}


def script(source: str, lang: str = "python", **fields: Any) -> dict[str, Any]:
    return {
        "name": "step",
        "script": {
            "image": "img",
            "command": [lang],
            "source": source,
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        },
        **fields,
    }


PYTHON = [sys.executable, "/argo/staging/script"]
BASH = ["bash", "/argo/staging/script"]

EVERYTHING = """
import os, sys
os.makedirs("/tmp/tree/sub")
open("/tmp/out.txt", "w").write("tarred body\\n")
open("/tmp/raw.bin", "wb").write(bytes(range(256)) * 64)
open("/tmp/tree/a.txt", "w").write("A")
open("/tmp/tree/sub/b.txt", "w").write("B" * 5000)
open("/data/vol.txt", "w").write("in the volume")
open("/tmp/uid", "w").write(str(os.getuid()))
try:
    open("/rootfs-probe", "w")
    writable = "yes"
except OSError:
    writable = "no"
open("/tmp/root-writable", "w").write(writable)
open("/var/run/argo/progress", "w").write("1/4\\n3/4\\n")
print("to stderr", file=sys.stderr)
print("the result")
"""


def test_a_python_script_pod_saves_every_output(pod: Pod, s3_moto: Backend) -> None:
    template = script(
        EVERYTHING,
        outputs={
            "parameters": [
                {"name": "uid", "valueFrom": {"path": "/tmp/uid"}},
                {"name": "root-writable", "valueFrom": {"path": "/tmp/root-writable"}},
            ],
            "artifacts": [
                {"name": "tarred", "path": "/tmp/out.txt"},
                {"name": "raw", "path": "/tmp/raw.bin", "archive": {"none": {}}},
                {"name": "zipped", "path": "/tmp/tree", "archive": {"zip": {}}},
                {"name": "vol", "path": "/data/vol.txt"},
            ],
        },
        archiveLocation={**s3_location(pod, s3_moto), "archiveLogs": True},
    )
    run = pod.run(
        template,
        PYTHON,
        wait_env={
            "ARGO_PROGRESS_FILE": "/var/run/argo/progress",
            "ARGO_PROGRESS_PATCH_TICK_DURATION": "1m",
            "ARGO_PROGRESS_FILE_TICK_DURATION": "100ms",
        },
    )

    assert run.main.returncode == 0, run.main.stderr
    assert run.wait.returncode == 0, run.wait.stderr
    doc = run.result
    assert doc["metadata"]["labels"]["workflows.argoproj.io/report-outputs-completed"] == "true"
    outputs = doc["outputs"]
    assert outputs["result"] == "the result"
    assert {p["name"]: p["value"] for p in outputs["parameters"]} == {
        "uid": NOBODY,
        "root-writable": "no",
    }
    assert doc["progress"] == "3/4"
    prefix = "wf/wf-step-1234"
    assert [(a["name"], a["s3"]) for a in outputs["artifacts"]] == [
        ("tarred", {"key": f"{prefix}/tarred.tgz"}),
        ("raw", {"key": f"{prefix}/raw.bin"}),
        ("zipped", {"key": f"{prefix}/zipped.zip"}),
        ("vol", {"key": f"{prefix}/vol.tgz"}),
        ("main-logs", {"key": f"{prefix}/main.log"}),
    ]
    with tarfile.open(fileobj=io.BytesIO(s3_moto.get_object(f"{prefix}/tarred.tgz"))) as tar:
        assert tar.getnames() == ["out.txt"]
        assert tar.extractfile("out.txt").read() == b"tarred body\n"  # type: ignore[union-attr]
    assert s3_moto.get_object(f"{prefix}/raw.bin") == bytes(range(256)) * 64
    with zipfile.ZipFile(io.BytesIO(s3_moto.get_object(f"{prefix}/zipped.zip"))) as zf:
        assert {n: zf.read(n) for n in zf.namelist()} == {
            "tree/a.txt": b"A",
            "tree/sub/b.txt": b"B" * 5000,
        }
    with tarfile.open(fileobj=io.BytesIO(s3_moto.get_object(f"{prefix}/vol.tgz"))) as tar:
        assert tar.extractfile("vol.txt").read() == b"in the volume"  # type: ignore[union-attr]
    log = s3_moto.get_object(f"{prefix}/main.log").decode()
    assert "to stderr" in log and "the result" in log
    assert "argo=true" not in log  # executor lines never pollute the archived log


@pytest.mark.parametrize(
    ("command", "source", "code", "result"),
    [
        (BASH, "echo fine", 0, "fine"),
        (BASH, "echo failing; exit 1", 1, "failing"),
        (BASH, "echo killed; kill -KILL $$", 137, "killed"),
        (BASH, "echo terminated; kill -TERM $$", 143, "terminated"),
        # Main never started its command: no result, and no second failure from wait.
        (["no-such-program"], "", 64, None),
    ],
)
def test_wait_reports_whatever_way_main_ended(
    pod: Pod, command: list[str], source: str, code: int, result: str | None
) -> None:
    run = pod.run(script(source, "bash"), command)
    assert run.main.returncode == code, run.main.stderr
    assert (pod.varrun / "ctr" / "main" / "exitcode").exists()
    assert run.wait.returncode == 0, run.wait.stderr
    assert run.result["outputs"].get("result") == result
    assert (
        run.result["metadata"]["labels"]["workflows.argoproj.io/report-outputs-completed"] == "true"
    )


def test_a_result_larger_than_the_limit_keeps_its_tail(pod: Pod) -> None:
    source = f"import sys\nsys.stdout.write('x' * {RESULT_MAX_BYTES + 5000} + 'END\\n')\n"
    run = pod.run(script(source), PYTHON)
    assert run.wait.returncode == 0, run.wait.stderr
    value = run.result["outputs"]["result"]
    assert len(value) == RESULT_MAX_BYTES
    assert value.endswith("xEND")
    assert str(RESULT_MAX_BYTES + 5003) in run.result["message"]
    assert "truncated" in run.wait.stderr and "level=WARN" in run.wait.stderr


def test_a_missing_parameter_uses_its_default_or_fails_the_wait(pod: Pod) -> None:
    template = script(
        "echo hi",
        "bash",
        outputs={
            "parameters": [
                {"name": "with-default", "valueFrom": {"path": "/tmp/no", "default": "dflt"}},
                {"name": "required", "valueFrom": {"path": "/tmp/none"}},
            ]
        },
    )
    run = pod.run(template, BASH)
    assert run.main.returncode == 0
    assert run.wait.returncode == 64
    message = pod.termination_log("wait").read_text()
    assert "'required'" in message and "/tmp/none" in message
    params = run.result["outputs"]["parameters"]
    assert params[0]["value"] == "dflt"
    assert "value" not in params[1]


def test_a_missing_required_artifact_fails_the_wait_after_saving_the_rest(
    pod: Pod, s3_moto: Backend
) -> None:
    template = script(
        "echo kept > /tmp/kept",
        "bash",
        outputs={
            "artifacts": [
                {"name": "absent", "path": "/tmp/absent"},
                {"name": "optional", "path": "/tmp/optional", "optional": True},
                {"name": "kept", "path": "/tmp/kept", "archive": {"none": {}}},
            ]
        },
        archiveLocation=s3_location(pod, s3_moto),
    )
    run = pod.run(template, BASH)
    assert run.wait.returncode == 64
    assert "/tmp/absent no such file or directory" in pod.termination_log("wait").read_text()
    assert [a["name"] for a in run.result["outputs"]["artifacts"]] == ["kept"]
    assert s3_moto.get_object("wf/wf-step-1234/kept") == b"kept\n"


def test_the_deadline_stops_main_through_its_signal_file(pod: Pod) -> None:
    deadline = (datetime.now(UTC) + timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    run = pod.run(
        script("echo started; sleep 60", "bash"),
        BASH,
        wait_env={"ARGO_DEADLINE": deadline, "ARGO_TERMINATION_GRACE_PERIOD_SECONDS": "5"},
    )
    assert run.main.returncode == 143, run.main.stderr
    assert run.wait.returncode == 0, run.wait.stderr
    assert pod.termination_log("wait").read_text() == "Step exceeded its deadline"
    assert (
        run.result["metadata"]["labels"]["workflows.argoproj.io/report-outputs-completed"] == "true"
    )


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += [int(child), *_descendants(int(child))]
    return found


def _wait_process(bwrap_pid: int) -> int | None:
    for pid in _descendants(bwrap_pid):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"argoexec" in cmdline and b"wait" in cmdline and not cmdline[0].endswith(b"bwrap"):
            return pid
    return None


def test_sigterm_to_wait_stops_the_waiting_but_still_delivers_outputs(
    pod: Pod, s3_moto: Backend
) -> None:
    template = script(
        "echo body > /tmp/o",
        "bash",
        outputs={"artifacts": [{"name": "o", "path": "/tmp/o"}]},
        archiveLocation=s3_location(pod, s3_moto),
    )
    pod.init(template)
    assert pod.main(template, BASH).returncode == 0
    (pod.varrun / "ctr" / "main" / "exitcode").unlink()  # as if main were still running
    wait = pod.start_wait(template)
    try:
        result = pod.dir("result") / "result.json"
        wait_until(result.exists, timeout=60, what="the wait container to create its result")
        target = _wait_process(wait.pid)
        assert target is not None
        os.kill(target, signal.SIGTERM)
        _, err = wait.communicate(timeout=120)
    finally:
        if wait.poll() is None:
            wait.kill()
            wait.communicate()
    assert wait.returncode == 0, err
    assert "received SIGTERM" in err
    doc = pod.result()
    assert doc["metadata"]["labels"]["workflows.argoproj.io/report-outputs-completed"] == "true"
    assert doc["outputs"]["artifacts"][0]["s3"] == {"key": "wf/wf-step-1234/o.tgz"}
    with tarfile.open(fileobj=io.BytesIO(s3_moto.get_object("wf/wf-step-1234/o.tgz"))) as tar:
        assert tar.extractfile("o").read() == b"body\n"  # type: ignore[union-attr]


TASK_RESULTS = ("workflowtaskresults", "argoproj.io")


def test_wait_reports_a_workflow_task_result_to_the_api_server(
    pod: Pod, kube_api: FakeKube, s3_moto: Backend, tmp_path: Path
) -> None:
    config = kube_api.kubeconfig(tmp_path / "kubeconfig", token=kube_api.token, namespace="argo")
    template = script(
        "echo out > /tmp/o; echo the result",
        "bash",
        outputs={"artifacts": [{"name": "o", "path": "/tmp/o"}]},
        archiveLocation=s3_location(pod, s3_moto),
    )
    env = {"ARGO_WORKFLOW_UID": "uid-1", "ARGO_INSTANCE_ID": "i1"}
    run = pod.run(template, BASH, wait_env=env, kubeconfig=config)

    assert run.wait.returncode == 0, run.wait.stderr
    obj = kube_api.get(TASK_RESULTS[0], "wf-1234", namespace="argo", group=TASK_RESULTS[1])
    assert obj is not None
    assert obj["metadata"]["labels"] == {
        "workflows.argoproj.io/workflow": "wf",
        "workflows.argoproj.io/report-outputs-completed": "true",
        "workflows.argoproj.io/controller-instanceid": "i1",
    }
    assert obj["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert obj["outputs"]["result"] == "the result"
    assert obj["outputs"]["artifacts"] == [
        {"name": "o", "path": "/tmp/o", "s3": {"key": "wf/wf-step-1234/o.tgz"}}
    ]
    writes = [r.method for r in kube_api.requests(path="workflowtaskresults") if r.method != "GET"]
    assert writes[0] == "POST"  # created not completed, before anything else
    assert writes[-1] == "PATCH"  # the completion label comes last


def test_a_report_the_api_server_refuses_leaves_the_result_incomplete(
    pod: Pod, kube_api: FakeKube, tmp_path: Path
) -> None:
    config = kube_api.kubeconfig(tmp_path / "kubeconfig", token=kube_api.token, namespace="argo")
    kube_api.deny("patch", TASK_RESULTS[0], group=TASK_RESULTS[1])
    run = pod.run(script("echo hi", "bash"), BASH, kubeconfig=config)

    assert run.wait.returncode == 64
    assert "workflowtaskresults" in pod.termination_log("wait").read_text()
    obj = kube_api.get(TASK_RESULTS[0], "wf-1234", namespace="argo", group=TASK_RESULTS[1])
    assert obj["metadata"]["labels"]["workflows.argoproj.io/report-outputs-completed"] == "false"


def test_wait_without_a_pod_name_fails(pod: Pod) -> None:
    wait = pod.start_wait(script("echo", "bash"), ARGO_POD_NAME="")
    _, err = wait.communicate(timeout=120)
    assert wait.returncode == 64, err
    assert "ARGO_POD_NAME" in pod.termination_log("wait").read_text()
