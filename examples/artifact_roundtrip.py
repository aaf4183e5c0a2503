"""Demo: an artifact round trip through ``argoexec artifact put`` and ``get``.

Run with ``python -m examples.artifact_roundtrip`` (``make demo``). It starts a moto S3 server on
127.0.0.1, writes a small sample tree, describes the storage location the way a workflow
template would (an Argo artifact with ``accessKeySecret``/``secretKeySecret`` selectors) and
lays the credentials out like the pod's ``/argo/secret`` volume. Then it runs the real CLI as
subprocesses: ``put -o json`` uploads the tree as a ``.tgz`` (the bucket is created on demand via
``createBucketIfNotPresent``), ``get`` downloads and unpacks it elsewhere. It exits 0 when the two
trees are identical and 1 otherwise, and removes everything it created.
"""

from __future__ import annotations

import filecmp
import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

SECRET_NAME = "demo-s3"
ACCESS_KEY = "demo-access-key"
SECRET_KEY = "demo-secret-key"  # moto accepts any key pair


def write_sample_tree(root: Path) -> Path:
    (root / "reports" / "2024").mkdir(parents=True)
    (root / "README.txt").write_text("an artifact produced by a workflow step\n")
    (root / "reports" / "2024" / "summary.csv").write_text("step,seconds\nbuild,12\ntest,34\n")
    (root / "reports" / "data.bin").write_bytes(bytes(range(256)) * 64)
    (root / "empty-dir").mkdir()
    return root


def write_location(path: Path, endpoint: str) -> Path:
    artifact = {
        "name": "sample",
        "s3": {
            "endpoint": endpoint,
            "bucket": "argoexec-demo",
            "key": "demo/sample.tgz",
            "insecure": True,
            "createBucketIfNotPresent": {},
            "accessKeySecret": {"name": SECRET_NAME, "key": "accessKey"},
            "secretKeySecret": {"name": SECRET_NAME, "key": "secretKey"},
        },
    }
    path.write_text(yaml.safe_dump(artifact, sort_keys=False))
    return path


def write_secrets(root: Path) -> Path:
    (root / SECRET_NAME).mkdir(parents=True)
    (root / SECRET_NAME / "accessKey").write_text(ACCESS_KEY)
    (root / SECRET_NAME / "secretKey").write_text(SECRET_KEY)
    return root


def same_tree(left: Path, right: Path) -> bool:
    cmp = filecmp.dircmp(left, right)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(left, right, cmp.common_files, shallow=False)
    if mismatch or errors:
        return False
    return all(same_tree(left / d, right / d) for d in cmp.common_dirs)


def argoexec(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "argoexec", *args]
    print("$ argoexec " + " ".join(args), flush=True)
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(f"argoexec {args[1]} failed with exit code {result.returncode}")
    return result


def round_trip(work: Path, endpoint: str) -> bool:
    tree = write_sample_tree(work / "sample")
    location = write_location(work / "location.yaml", endpoint)
    secrets = write_secrets(work / "argo-secret")
    print(f"sample tree: {tree}")
    print(f"artifact location ({location.name}):\n{location.read_text()}")
    put = argoexec(
        "artifact", "put", str(tree), "--artifact", str(location),
        "--secrets-dir", str(secrets), "-o", "json",
    )  # fmt: skip
    stored = json.loads(put.stdout)
    print(f"stored: {json.dumps(stored)}")
    restored = work / "restored"
    argoexec(
        "artifact", "get", "--artifact", str(location), str(restored),
        "--sha256", stored["sha256"], "--secrets-dir", str(secrets),
    )  # fmt: skip
    identical = same_tree(tree, restored)
    print(f"restored tree: {restored} — {'identical' if identical else 'DIFFERENT'}")
    return identical


def main() -> int:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        print(f"moto S3 server on {host}:{port}")
        with tempfile.TemporaryDirectory(prefix="argoexec-demo-") as tmp:
            ok = round_trip(Path(tmp), f"{host}:{port}")
    finally:
        server.stop()
    print("OK: the tree came back identical" if ok else "FAILED: the trees differ")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
