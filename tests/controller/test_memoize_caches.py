"""Memoization caches on this machine: `DirectoryCaches` (the state directory's ConfigMap files,
shared by every run of it) and two `argoexec run` of one workflow, the second a hit."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from argoexec.cli import main
from argoexec.controller.engine.memo import CacheError
from argoexec.controller.loop.caches import DirectoryCaches, MemoryCaches
from argoexec.controller.loop.controller import Controller
from argoexec.controller.loop.memory import MemoryStore
from argoexec.controller.reconcile import Settings
from argoexec.controller.sandbox import find_bubblewrap
from tests.controller.reconcile_double import workflow
from tests.controller.test_loop_controller import Clock, Pods
from tests.servers.procs import require

REPO = Path(__file__).resolve().parents[2]
LABEL = "workflows.argoproj.io/configmap-type"


def entry(node: str, moment: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    return {
        "nodeID": node,
        "outputs": {"result": node},
        "creationTimestamp": moment,
        "lastHitTimestamp": moment,
    }


def test_a_save_writes_the_config_map_in_its_own_shape(tmp_path: Path) -> None:
    caches = DirectoryCaches(tmp_path)
    caches.save("argo", "my-cache", "k1", entry("n1"), hit=False)
    path = tmp_path / ".configmaps" / "argo" / "my-cache.json"
    written = json.loads(path.read_text())
    assert written["apiVersion"] == "v1" and written["kind"] == "ConfigMap"
    assert written["metadata"] == {
        "name": "my-cache",
        "namespace": "argo",
        "labels": {LABEL: "Cache"},
    }
    assert json.loads(written["data"]["k1"]) == entry("n1")
    assert caches.view("argo")["my-cache"] == written
    assert "my-cache" not in caches.view("other")
    # Only the ConfigMap and its lock are left: no temporary file.
    assert sorted(p.name for p in path.parent.iterdir()) == [".my-cache.lock", "my-cache.json"]


def test_a_hit_moves_only_the_last_hit_time_of_the_entry_it_read(tmp_path: Path) -> None:
    caches = DirectoryCaches(tmp_path)
    caches.save("ns", "c", "k", entry("n1"), hit=False)
    caches.save(
        "ns", "c", "k", {"nodeID": "n1", "lastHitTimestamp": "2026-01-02T00:00:00Z"}, hit=True
    )
    held = json.loads(caches.view("ns")["c"]["data"]["k"])
    assert held == {**entry("n1"), "lastHitTimestamp": "2026-01-02T00:00:00Z"}
    # An entry replaced since it was read (another node's) is left alone.
    caches.save(
        "ns", "c", "k", {"nodeID": "n0", "lastHitTimestamp": "2026-01-03T00:00:00Z"}, hit=True
    )
    assert json.loads(caches.view("ns")["c"]["data"]["k"]) == held


def test_a_config_map_without_the_cache_label_is_never_written(tmp_path: Path) -> None:
    path = tmp_path / ".configmaps" / "ns" / "theirs.json"
    path.parent.mkdir(parents=True)
    theirs = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "theirs"},
        "data": {"x": "1"},
    }
    path.write_text(json.dumps(theirs))
    with pytest.raises(CacheError, match="configmap-type label"):
        DirectoryCaches(tmp_path).save("ns", "theirs", "k", entry("n"), hit=False)
    assert json.loads(path.read_text()) == theirs


def test_names_that_are_not_object_names_never_reach_the_file_system(tmp_path: Path) -> None:
    caches = DirectoryCaches(tmp_path)
    for namespace, name in (("ns", "../escape"), ("..", "c"), ("ns", "Upper"), ("ns", ".hidden")):
        with pytest.raises(CacheError):
            caches.save(namespace, name, "k", entry("n"), hit=False)
        assert name not in caches.view(namespace)
    assert not (tmp_path / "escape.json").exists()


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from argoexec.controller.loop.caches import DirectoryCaches
    caches = DirectoryCaches(Path(sys.argv[1]))
    for i in range(int(sys.argv[3])):
        node = f"{sys.argv[2]}-{i}"
        caches.save("ns", "shared", node, {"nodeID": node, "outputs": {"result": "x" * 2000},
                    "creationTimestamp": "2026-01-01T00:00:00Z",
                    "lastHitTimestamp": "2026-01-01T00:00:00Z"}, hit=False)
    """
)


def test_runs_saving_to_one_config_map_at_once_lose_no_entry(tmp_path: Path) -> None:
    """Processes sharing the state directory each save their own keys to one ConfigMap at the
    same time: every entry is there at the end (each save read-modify-writes under the lock)."""
    writers, saves = 4, 25
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), f"w{w}", str(saves)], cwd=REPO
        )
        for w in range(writers)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0] * writers
    data = DirectoryCaches(tmp_path).view("ns")["shared"]["data"]
    assert sorted(data) == sorted(f"w{w}-{i}" for w in range(writers) for i in range(saves))


def test_a_reader_never_sees_a_partly_written_config_map(tmp_path: Path) -> None:
    """While a writer replaces the file again and again, every read is a whole ConfigMap."""
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), "w", "200"], cwd=REPO)
    caches = DirectoryCaches(tmp_path)
    reads = 0
    while writer.poll() is None:
        found = caches.view("ns").get("shared")  # a partial file would raise CacheError
        if found is not None:
            assert found["kind"] == "ConfigMap"
            reads += 1
    assert writer.returncode == 0
    assert len(caches.view("ns")["shared"]["data"]) == 200
    assert reads > 0


def _run(example: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code = main(["run", str(example), "-o", "yaml", "--state-dir", str(state)])
    out = capsys.readouterr().out
    assert code == 0, out
    workflow: dict[str, Any] = yaml.safe_load(out)
    return workflow


def test_the_second_run_of_a_memoized_workflow_hits_the_cache_and_runs_no_pod(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    example = REPO / "examples" / "workflows" / "memoize-simple.yaml"
    first = _run(example, tmp_path, capsys)
    second = _run(example, tmp_path, capsys)
    [one] = first["status"]["nodes"].values()
    [two] = second["status"]["nodes"].values()
    assert one["memoizationStatus"] == {"hit": False, "key": "test-5", "cacheName": "my-config"}
    assert two["memoizationStatus"] == {"hit": True, "key": "test-5", "cacheName": "my-config"}
    assert two["phase"] == "Succeeded"
    assert two["outputs"] == one["outputs"]
    assert two["outputs"]["parameters"][0]["value"] == "test-5"
    # The first run's pod ran (its directory and log are kept); the second run has none.
    first_pods = tmp_path / first["metadata"]["name"] / "pods"
    second_pods = tmp_path / second["metadata"]["name"] / "pods"
    assert any(first_pods.iterdir())
    assert not second_pods.exists() or not any(second_pods.iterdir())
    cache = json.loads((tmp_path / ".configmaps" / "default" / "my-config.json").read_text())
    assert cache["metadata"]["labels"] == {LABEL: "Cache"}
    assert json.loads(cache["data"]["test-5"])["nodeID"] == one["id"]


class FlakyCaches(MemoryCaches):
    """Memory caches whose first `failures` saves fail (a full disk)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.attempts = 0

    def save(self, namespace: str, name: str, key: str, entry: Any, *, hit: bool) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise OSError(28, "No space left on device")
        super().save(namespace, name, key, entry, hit=hit)


def test_a_save_that_fails_is_carried_out_at_a_later_pass_of_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    memo = {"key": "a", "maxAge": "1h", "cache": {"configMap": {"name": "c"}}}
    echo = {"image": "alpine", "command": ["true"]}
    spec = {
        "entrypoint": "main",
        "templates": [
            {
                "name": "main",
                "steps": [
                    [{"name": "a", "template": "memo"}],
                    [{"name": "b", "template": "plain"}],
                ],
            },
            {"name": "memo", "memoize": memo, "container": echo},
            {"name": "plain", "container": echo},
        ],
    }
    store, pods, caches = MemoryStore(), Pods(), FlakyCaches(failures=1)
    store.create(workflow(spec))
    Controller(store, pods, Settings(), clock=Clock(), write_interval=0.0, caches=caches).drive(
        ["wf"]
    )
    final = store.get("wf")
    assert final["status"]["phase"] == "Succeeded"
    a = next(n for n in final["status"]["nodes"].values() if n["displayName"] == "a")
    held = json.loads(caches.view("default")["c"]["data"]["a"])
    assert held["nodeID"] == a["id"]
    assert caches.attempts == 2
    warnings = [r.getMessage() for r in caplog.records if "memoization cache c" in r.getMessage()]
    assert warnings == [
        "workflow wf: memoization cache c: [Errno 28] No space left on device; the entry is "
        "asked for again at the next pass"
    ]
