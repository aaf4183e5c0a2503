"""Executor configuration from the environment: the one module that reads environment variables.

``ExecutorConfig.from_environ(env)`` takes the mapping explicitly so tests pass a plain dict;
``ExecutorConfig.from_process()`` is the single call site that hands it ``os.environ``.

Argo's variables keep Argo's defaults and validation (argo-contract.md §10.5). Our own tuning
knobs are prefixed ``ARGOEXEC_``. An unparsable value never aborts the executor: the default is
kept and the problem is recorded in ``warnings`` for the caller to log once logging is set up.

| Variable | Field | Unit / rule |
|---|---|---|
| ``ARTIFACT_S3_UPLOAD_THREADS`` | ``settings.upload_threads`` | count; invalid or < 1 → 4 |
| ``ARTIFACT_S3_UPLOAD_PART_SIZE_MIB`` | ``settings.part_size`` | MiB → bytes; only 5..5120 |
| ``EXECUTOR_RETRY_BACKOFF_STEPS`` | ``settings.backoff.steps`` | attempts (5) |
| ``EXECUTOR_RETRY_BACKOFF_DURATION`` | ``settings.backoff.duration`` | Go duration, e.g. ``1s`` |
| ``EXECUTOR_RETRY_BACKOFF_FACTOR`` | ``settings.backoff.factor`` | multiplier (1.6) |
| ``EXECUTOR_RETRY_BACKOFF_JITTER`` | ``settings.backoff.jitter`` | fraction (0.5) |
| ``TRANSIENT_ERROR_PATTERN`` | ``settings.transient_error_pattern`` | regex (must compile) |
| ``STORAGE_EMULATOR_HOST`` | ``settings.gcs_endpoint`` | URL; ``http://`` added if bare |
| ``SSH_KNOWN_HOSTS`` | ``settings.ssh_known_hosts`` | path |
| ``ARGOEXEC_HTTP_CA_BUNDLE`` | ``settings.http_ca_bundle`` | path of a PEM CA bundle |
| ``TMPDIR`` | ``settings.tmp_dir`` | path |
| ``ARGOEXEC_DOWNLOAD_THREADS`` | ``settings.download_threads`` | count ≥ 1 |
| ``ARGOEXEC_DOWNLOAD_CHUNK_MIB`` | ``settings.download_chunk_size`` | MiB → bytes, ≥ 1 |
| ``ARGOEXEC_PARALLEL_DOWNLOAD_THRESHOLD_MIB`` | ``settings.parallel_download_threshold`` | MiB |
| ``ARGOEXEC_DIR_WORKERS`` | ``settings.dir_workers`` | count ≥ 1 |
| ``ARGOEXEC_COMPRESSION_LEVEL`` | ``settings.default_compression_level`` | gzip level 0..9 |
| ``ARGOEXEC_COMPRESSION_THREADS`` | ``settings.compression_threads`` | count ≥ 1 |
| ``ARGOEXEC_MAX_EXTRACT_BYTES`` | ``settings.max_extract_bytes`` | bytes, 0 = none; unset: ½ free |
| ``ARGOEXEC_CONNECT_TIMEOUT`` / ``ARGOEXEC_READ_TIMEOUT`` | ``settings.*_timeout`` | seconds |
| ``KUBECONFIG`` | ``kubeconfig`` | ``:``-separated paths |
| ``KUBERNETES_SERVICE_HOST`` / ``_PORT`` | ``kubernetes_service_*`` | in-cluster API address |
| ``RESOURCE_STATE_CHECK_INTERVAL`` | ``resource_state_check_interval`` | Go duration (5s) |
| ``ARGOEXEC_STATE_DIR`` | ``controller_state_dir(env)`` | path: the controller's runs |
| ``ARGOEXEC_MAX_OUTPUT_PARAMETERS_BYTES`` | ``max_output_parameters_bytes`` | bytes, 0 = no cap |
| ``ARGOEXEC_MAX_CHILDREN`` | ``run_limits.max_children`` | count, 0 = no cap |
| ``ARGOEXEC_MAX_PODS`` | ``run_limits.max_pods`` | count, 0 = no cap |
| ``ARGOEXEC_POD_NETWORK`` | ``run_limits.pod_network`` | ``auto`` / ``pod`` / ``host`` |

The thin controller's state directory (``argoexec run``/``list``/``get``/``logs``/``resume``/
``stop``) is ``ARGOEXEC_STATE_DIR`` if set, else ``$XDG_STATE_HOME/argoexec``, else
``$HOME/.local/state/argoexec`` (``controller_state_dir``). ``argoexec run`` hands the transfer
knobs in ``EXECUTOR_TUNING_VARIABLES`` that are set in its environment to the executor
containers it starts (``executor_env``), as Argo's controller passes its ``executor.env``.

``PodEnv`` (the controller's pod variables) also reads ``ARGO_PROGRESS_PATCH_TICK_DURATION`` /
``ARGO_PROGRESS_FILE_TICK_DURATION`` (Go durations; invalid = 0 = progress monitor off),
``REMOVE_LOCAL_ART_PATH`` (``true``), and our ``ARGOEXEC_RESULT_FILE`` (``wait`` reports the
node result to this JSON file instead of a ``WorkflowTaskResult``: the local runtime).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from argoexec import contract as c
from argoexec.durations import parse_go_duration
from argoexec.retry import Backoff
from artifacts.settings import MIB, TransferSettings

T = TypeVar("T")

# Argo's bounds for ARTIFACT_S3_UPLOAD_PART_SIZE_MIB (S3's own multipart limits).
MIN_PART_SIZE_MIB = 5
MAX_PART_SIZE_MIB = 5120


class _Reader:
    """Typed lookups that record a warning and fall back to the default on bad input."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.warnings: list[str] = []

    def raw(self, name: str) -> str | None:
        value = self.env.get(name)
        return value if value is not None and value.strip() != "" else None

    def get(self, name: str, parse: Callable[[str], T], default: T, rule: str = "") -> T:
        text = self.raw(name)
        if text is None:
            return default
        try:
            return parse(text.strip())
        except ValueError:
            note = f" ({rule})" if rule else ""
            shown = "the default" if default is None else repr(default)
            self.warnings.append(f"ignoring {name}={text!r}: not valid{note}; using {shown}")
            return default


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(text)
    return value


def _level(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 9:
        raise ValueError(text)
    return value


def _part_size(text: str) -> int | None:
    mib = int(text)
    if not MIN_PART_SIZE_MIB <= mib <= MAX_PART_SIZE_MIB:
        raise ValueError(text)
    return mib * MIB


def _regex(text: str) -> str:
    try:
        re.compile(text)
    except re.error as exc:
        raise ValueError(str(exc)) from exc
    return text


def _emulator_url(text: str) -> str:
    # The Go and Python GCS clients both accept a bare host:port here and assume http.
    return text if "://" in text else f"http://{text}"


def _backoff(read: _Reader) -> Backoff:
    base = Backoff()
    return Backoff(
        steps=read.get(c.ENV_RETRY_BACKOFF_STEPS, _positive_int, base.steps, "integer ≥ 1"),
        duration=read.get(
            c.ENV_RETRY_BACKOFF_DURATION, parse_go_duration, base.duration, "e.g. 1s"
        ),
        factor=read.get(c.ENV_RETRY_BACKOFF_FACTOR, _finite_float, base.factor, "number"),
        jitter=read.get(c.ENV_RETRY_BACKOFF_JITTER, _finite_float, base.jitter, "number"),
    )


def _settings(read: _Reader) -> TransferSettings:
    base = TransferSettings()
    mib = "whole MiB ≥ 1"
    return TransferSettings(
        upload_threads=read.get(
            c.ENV_S3_UPLOAD_THREADS, _positive_int, base.upload_threads, "integer ≥ 1"
        ),
        part_size=read.get(
            c.ENV_S3_UPLOAD_PART_SIZE_MIB,
            _part_size,
            base.part_size,
            f"{MIN_PART_SIZE_MIB}..{MAX_PART_SIZE_MIB} MiB",
        ),
        download_threads=read.get(
            c.ENV_DOWNLOAD_THREADS, _positive_int, base.download_threads, "integer ≥ 1"
        ),
        download_chunk_size=read.get(
            c.ENV_DOWNLOAD_CHUNK_MIB,
            lambda t: _positive_int(t) * MIB,
            base.download_chunk_size,
            mib,
        ),
        parallel_download_threshold=read.get(
            c.ENV_PARALLEL_DOWNLOAD_THRESHOLD_MIB,
            lambda t: _non_negative_int(t) * MIB,
            base.parallel_download_threshold,
            "whole MiB",
        ),
        dir_workers=read.get(c.ENV_DIR_WORKERS, _positive_int, base.dir_workers, "≥ 1"),
        default_compression_level=read.get(
            c.ENV_COMPRESSION_LEVEL, _level, base.default_compression_level, "0..9"
        ),
        compression_threads=read.get(
            c.ENV_COMPRESSION_THREADS, _positive_int, base.compression_threads, "≥ 1"
        ),
        max_extract_bytes=read.get(
            c.ENV_MAX_EXTRACT_BYTES,
            _non_negative_int,
            base.max_extract_bytes,
            "bytes, 0 = no cap; unset = half the free disk space",
        ),
        backoff=_backoff(read),
        tmp_dir=read.get("TMPDIR", Path, base.tmp_dir),
        transient_error_pattern=read.get(
            c.ENV_TRANSIENT_ERROR_PATTERN, _regex, base.transient_error_pattern, "a regex"
        ),
        gcs_endpoint=read.get("STORAGE_EMULATOR_HOST", _emulator_url, base.gcs_endpoint),
        ssh_known_hosts=read.get("SSH_KNOWN_HOSTS", Path, base.ssh_known_hosts),
        http_ca_bundle=read.get(c.ENV_HTTP_CA_BUNDLE, Path, base.http_ca_bundle),
        connect_timeout=read.get(
            c.ENV_CONNECT_TIMEOUT, _finite_float, base.connect_timeout, "seconds"
        ),
        read_timeout=read.get(c.ENV_READ_TIMEOUT, _finite_float, base.read_timeout, "s"),
    )


def _positive_duration(text: str) -> float:
    value = parse_go_duration(text)
    if value <= 0:
        raise ValueError(text)
    return value


def _kubeconfig(read: _Reader) -> tuple[Path, ...]:
    text = read.raw("KUBECONFIG")
    if text is None:
        return ()
    return tuple(Path(p) for p in text.split(os.pathsep) if p)


def _path_map(text: str | None) -> tuple[tuple[str, str], ...]:
    """Only the local runtime sets it; anything but a JSON object of strings maps nothing."""
    try:
        mapping = json.loads(text or "{}")
    except ValueError:
        return ()
    if not isinstance(mapping, dict):
        return ()
    return tuple((k, v) for k, v in mapping.items() if isinstance(k, str) and isinstance(v, str))


def _tick(text: str | None) -> float:
    """A progress tick duration; anything unparsable or negative is 0 (off), as in Argo."""
    try:
        seconds = parse_go_duration(text) if text else 0.0
    except ValueError:
        return 0.0
    return max(seconds, 0.0)


def _optional_path(text: str | None) -> Path | None:
    return Path(text) if text else None


@dataclass(frozen=True)
class PodEnv:
    """What the controller tells the executor about its pod (argo-contract.md §1.5, §10.5)."""

    pod_name: str | None = None  # ARGO_POD_NAME (mandatory for pod sub-commands)
    pod_uid: str = ""  # ARGO_POD_UID
    workflow_name: str = ""  # ARGO_WORKFLOW_NAME
    workflow_uid: str = ""  # ARGO_WORKFLOW_UID
    node_id: str = ""  # ARGO_NODE_ID: also the WorkflowTaskResult name
    instance_id: str = ""  # ARGO_INSTANCE_ID
    container_name: str = ""  # ARGO_CONTAINER_NAME
    template: str | None = None  # ARGO_TEMPLATE: JSON, or the "offloaded" sentinel
    deadline: str = ""  # ARGO_DEADLINE: RFC3339; the zero time means none
    include_script_output: bool = False  # ARGO_INCLUDE_SCRIPT_OUTPUT == "true"
    # ARGO_TERMINATION_GRACE_PERIOD_SECONDS (> 0, else 30)
    grace_seconds: float = c.DEFAULT_GRACE_SECONDS
    progress_file: str = ""  # ARGO_PROGRESS_FILE
    # ARGOEXEC_EMISSARY_BINARY: the file init copies to /var/run/argo/argoexec (a frozen
    # emissary for images without Python); unset = a launcher for this Python's argoexec.
    emissary_binary: Path | None = None
    # ARGOEXEC_VAR_RUN_DIR / ARGOEXEC_TERMINATION_LOG: move /var/run/argo and the termination
    # log (the local runtime without a sandbox, benchmarks); the emissary honours them too.
    var_run_dir: Path | None = None
    termination_log: Path | None = None
    # ARGOEXEC_PATH_MAP: a JSON object {container path: host path} of the container's mounts,
    # set by the unsandboxed local runtime so the executor's fixed paths (/argo/staging,
    # /argo/inputs/artifacts, /mainctrfs...) land in the pod's volumes, not on the host's root.
    path_map: tuple[tuple[str, str], ...] = ()
    # ARGO_PROGRESS_PATCH_TICK_DURATION / ARGO_PROGRESS_FILE_TICK_DURATION, in seconds: the
    # progress monitor runs only when both are non-zero (an unparsable value counts as zero).
    progress_patch_tick: float = 0.0
    progress_file_tick: float = 0.0
    remove_local_art_path: bool = False  # REMOVE_LOCAL_ART_PATH == "true"
    # ARGOEXEC_RESULT_FILE: report the node result to this file (FileSink) rather than to a
    # WorkflowTaskResult through the Kubernetes API.
    result_file: Path | None = None
    # ARGO_ARTIFACT_PLUGIN_NAMES: the artifact-plugin sidecar containers wait stops at the end.
    artifact_plugin_sidecars: tuple[str, ...] = ()
    # ARGO_ARTIFACT_POD_NAME: an artifact-GC pod's hash, the label of its tasks (§9.1).
    artifact_gc_pod_hash: str = ""
    # ARGOEXEC_START_GATE: the descriptor a container started ahead of time waits at (never a
    # standard stream: anything else is ignored).
    start_gate: int | None = None

    @classmethod
    def read(cls, env: Mapping[str, str]) -> PodEnv:
        try:
            grace = float(env.get(c.ENV_TERMINATION_GRACE_PERIOD_SECONDS) or 0)
        except ValueError:
            grace = 0.0
        binary = env.get(c.ENV_EMISSARY_BINARY)
        result_file = env.get(c.ENV_RESULT_FILE)
        return cls(
            pod_name=env.get(c.ENV_POD_NAME) or None,
            pod_uid=env.get(c.ENV_POD_UID, ""),
            workflow_name=env.get(c.ENV_WORKFLOW_NAME, ""),
            workflow_uid=env.get(c.ENV_WORKFLOW_UID, ""),
            node_id=env.get(c.ENV_NODE_ID, ""),
            instance_id=env.get(c.ENV_INSTANCE_ID, ""),
            container_name=env.get(c.ENV_CONTAINER_NAME, ""),
            template=env.get(c.ENV_TEMPLATE),
            deadline=env.get(c.ENV_DEADLINE, ""),
            include_script_output=env.get(c.ENV_INCLUDE_SCRIPT_OUTPUT, "") == "true",
            grace_seconds=grace if grace > 0 else c.DEFAULT_GRACE_SECONDS,
            progress_file=env.get(c.ENV_PROGRESS_FILE, ""),
            emissary_binary=Path(binary) if binary else None,
            var_run_dir=_optional_path(env.get(c.ENV_VAR_RUN_DIR)),
            termination_log=_optional_path(env.get(c.ENV_TERMINATION_LOG)),
            path_map=_path_map(env.get(c.ENV_PATH_MAP)),
            progress_patch_tick=_tick(env.get(c.ENV_PROGRESS_PATCH_TICK)),
            progress_file_tick=_tick(env.get(c.ENV_PROGRESS_FILE_TICK)),
            remove_local_art_path=env.get(c.ENV_REMOVE_LOCAL_ART_PATH, "") == "true",
            result_file=Path(result_file) if result_file else None,
            artifact_plugin_sidecars=tuple(
                n.strip() for n in env.get(c.ENV_ARTIFACT_PLUGIN_NAMES, "").split(",") if n.strip()
            ),
            start_gate=_descriptor(env.get(c.ENV_START_GATE, "")),
            artifact_gc_pod_hash=env.get(c.ENV_ARTIFACT_GC_POD_HASH, ""),
        )


def _descriptor(text: str) -> int | None:
    return int(text) if text.isdigit() and 3 <= int(text) < 1 << 20 else None


@dataclass(frozen=True)
class RunLimits:
    """Bounds of one ``argoexec run``; None when the variable is unset (the run's own default
    applies, see ``RunOptions``). Each is a count, 0 meaning no cap."""

    max_children: int | None = None  # ARGOEXEC_MAX_CHILDREN: children of one node
    max_pods: int | None = None  # ARGOEXEC_MAX_PODS: pods running at once
    # ARGOEXEC_POD_NETWORK: which pods of the local runtime get networks of their own.
    pod_network: str | None = None

    @classmethod
    def read(cls, read: _Reader) -> RunLimits:
        rule = "integer ≥ 0"
        return cls(
            max_children=read.get(c.ENV_MAX_CHILDREN, _non_negative_int, None, rule),
            max_pods=read.get(c.ENV_MAX_PODS, _non_negative_int, None, rule),
            pod_network=read.get(c.ENV_POD_NETWORK, _pod_network, None, " | ".join(c.POD_NETWORKS)),
        )


def _pod_network(text: str) -> str:
    if text not in c.POD_NETWORKS:
        raise ValueError(text)
    return text


@dataclass(frozen=True)
class AgentEnv:
    """What the controller tells the agent pod (`argoexec agent`)."""

    # ARGO_AGENT_PATCH_RATE (Go duration, default 10s), in seconds: how often results are
    # patched into the task set's status.
    patch_rate: float = c.DEFAULT_AGENT_PATCH_RATE
    # ARGO_AGENT_TASK_WORKERS (default 16): tasks run at once.
    task_workers: int = c.DEFAULT_AGENT_TASK_WORKERS

    @classmethod
    def read(cls, read: _Reader) -> AgentEnv:
        return cls(
            patch_rate=read.get(
                c.ENV_AGENT_PATCH_RATE,
                _positive_duration,
                c.DEFAULT_AGENT_PATCH_RATE,
                "a Go duration > 0",
            ),
            task_workers=read.get(
                c.ENV_AGENT_TASK_WORKERS, _positive_int, c.DEFAULT_AGENT_TASK_WORKERS, "integer > 0"
            ),
        )


@dataclass(frozen=True)
class ExecutorConfig:
    """Everything the executor takes from its environment, parsed and validated once."""

    # Transfer knobs for every artifact driver (see the table in the module docstring).
    settings: TransferSettings = field(default_factory=TransferSettings)
    # KUBECONFIG: kubeconfig files merged in order (empty = none configured).
    kubeconfig: tuple[Path, ...] = ()
    # KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT: the in-cluster API server (set by the
    # kubelet in every pod); used when no kubeconfig is configured.
    kubernetes_service_host: str = ""
    kubernetes_service_port: str = ""
    # RESOURCE_STATE_CHECK_INTERVAL (Go duration, default 5s), in seconds: how often
    # ``resource`` polls the object for its success/failure conditions.
    resource_state_check_interval: float = 5.0
    # The pod's identity and template, as the controller set them.
    pod: PodEnv = field(default_factory=PodEnv)
    # ARGOEXEC_MAX_OUTPUT_PARAMETERS_BYTES: the most bytes ``wait`` reads into one node's output
    # parameters, all together (0 = no cap); ``argoexec run`` applies it too.
    max_output_parameters_bytes: int = c.MAX_OUTPUT_PARAMETERS_BYTES
    # ARGOEXEC_MAX_CHILDREN / ARGOEXEC_MAX_PODS / ARGOEXEC_POD_NETWORK: of ``argoexec run``.
    run_limits: RunLimits = field(default_factory=RunLimits)
    agent: AgentEnv = field(default_factory=AgentEnv)
    # Problems found while parsing (value ignored, default kept); logged by the caller.
    warnings: tuple[str, ...] = ()
    # The environment itself, only for explicit ``env:VAR`` references given on the command
    # line (e.g. ``--secret name/key=env:VAR``). Never shown in repr: it may hold secrets.
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> ExecutorConfig:
        read = _Reader(env)
        settings = _settings(read)
        kubeconfig = _kubeconfig(read)
        return cls(
            settings=settings,
            kubeconfig=kubeconfig,
            kubernetes_service_host=(read.raw("KUBERNETES_SERVICE_HOST") or "").strip(),
            kubernetes_service_port=(read.raw("KUBERNETES_SERVICE_PORT") or "").strip(),
            resource_state_check_interval=read.get(
                c.ENV_RESOURCE_STATE_CHECK_INTERVAL, _positive_duration, 5.0, "a Go duration > 0"
            ),
            pod=PodEnv.read(env),
            max_output_parameters_bytes=read.get(
                c.ENV_MAX_OUTPUT_PARAMETERS_BYTES,
                _non_negative_int,
                c.MAX_OUTPUT_PARAMETERS_BYTES,
                "bytes, integer ≥ 0",
            ),
            run_limits=RunLimits.read(read),
            agent=AgentEnv.read(read),
            warnings=tuple(read.warnings),
            environ=dict(env),
        )

    @classmethod
    def from_process(cls) -> ExecutorConfig:
        """The configuration of this process (the one place ``os.environ`` is read)."""
        return cls.from_environ(os.environ)

    def env_value(self, name: str) -> str | None:
        """The value of an environment variable the user pointed us to explicitly."""
        return self.environ.get(name)


def state_dir_from_env(env: Mapping[str, str]) -> bool:
    """Whether ``ARGOEXEC_STATE_DIR`` chose the state directory (messages name it then)."""
    return bool((env.get(c.ENV_STATE_DIR) or "").strip())


def leader_election_identity(env: Mapping[str, str]) -> str:
    """The cluster controller's name in its Lease: ``LEADER_ELECTION_IDENTITY`` (Argo's; the
    pod's name in the manifests), else ``<hostname>-<pid>`` (unique per process)."""
    given = (env.get(c.ENV_LEADER_ELECTION_IDENTITY) or "").strip()
    # os.uname's node name is what gethostname returns, without importing socket (~3 ms of
    # every executor's start: this module is on every pod's path).
    return given or f"{os.uname().nodename}-{os.getpid()}"


def controller_state_dir(env: Mapping[str, str]) -> Path:
    """Where the thin controller keeps its runs: ``ARGOEXEC_STATE_DIR``, else the XDG state
    directory (``$XDG_STATE_HOME/argoexec``, which the XDG spec requires to be absolute), else
    ``$HOME/.local/state/argoexec``."""
    explicit = (env.get(c.ENV_STATE_DIR) or "").strip()
    if explicit:
        return Path(explicit)
    xdg = (env.get("XDG_STATE_HOME") or "").strip()
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "argoexec"
    home = (env.get("HOME") or "").strip()
    return (Path(home) if home else Path.home()) / ".local" / "state" / "argoexec"


# The executor's transfer knobs that `argoexec run` hands on to the executor containers it
# starts (init, wait), as Argo's controller passes its `executor.env`: set them where `run` is
# started. Paths (SSH_KNOWN_HOSTS, ARGOEXEC_HTTP_CA_BUNDLE, TMPDIR) stay out: a sandboxed
# container does not see the host's files.
EXECUTOR_TUNING_VARIABLES = (
    c.ENV_S3_UPLOAD_THREADS,
    c.ENV_S3_UPLOAD_PART_SIZE_MIB,
    c.ENV_RETRY_BACKOFF_STEPS,
    c.ENV_RETRY_BACKOFF_DURATION,
    c.ENV_RETRY_BACKOFF_FACTOR,
    c.ENV_RETRY_BACKOFF_JITTER,
    c.ENV_TRANSIENT_ERROR_PATTERN,
    c.ENV_DOWNLOAD_THREADS,
    c.ENV_DOWNLOAD_CHUNK_MIB,
    c.ENV_PARALLEL_DOWNLOAD_THRESHOLD_MIB,
    c.ENV_DIR_WORKERS,
    c.ENV_COMPRESSION_LEVEL,
    c.ENV_COMPRESSION_THREADS,
    c.ENV_MAX_EXTRACT_BYTES,
    c.ENV_CONNECT_TIMEOUT,
    c.ENV_READ_TIMEOUT,
)


def executor_env(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The executor tuning variables set (non-blank) in ``env``, in a fixed order."""
    return tuple(
        (name, env[name]) for name in EXECUTOR_TUNING_VARIABLES if (env.get(name) or "").strip()
    )
