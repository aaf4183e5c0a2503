"""ExecutorConfig.from_environ: Argo's variables with Argo's defaults and bounds, plus our knobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from argoexec.config import ExecutorConfig, executor_env
from argoexec.durations import parse_go_duration
from argoexec.retry import Backoff
from artifacts.settings import MIB, TransferSettings


def settings(**env: str) -> TransferSettings:
    return ExecutorConfig.from_environ(env).settings


def test_an_empty_environment_gives_the_defaults() -> None:
    config = ExecutorConfig.from_environ({})
    assert config.settings == TransferSettings()
    assert config.kubeconfig == ()
    assert config.warnings == ()


@pytest.mark.parametrize(("value", "threads"), [("8", 8), ("1", 1), ("0", 4), ("-3", 4), ("x", 4)])
def test_upload_threads_below_one_or_invalid_fall_back_to_four(value: str, threads: int) -> None:
    assert settings(ARTIFACT_S3_UPLOAD_THREADS=value).upload_threads == threads


@pytest.mark.parametrize(
    ("value", "part_size"),
    [("5", 5 * MIB), ("64", 64 * MIB), ("5120", 5120 * MIB), ("4", None), ("5121", None)],
)
def test_the_part_size_is_honoured_only_between_5_and_5120_mib(
    value: str, part_size: int | None
) -> None:
    assert settings(ARTIFACT_S3_UPLOAD_PART_SIZE_MIB=value).part_size == part_size


def test_an_ignored_value_is_reported_as_a_warning() -> None:
    config = ExecutorConfig.from_environ({"ARTIFACT_S3_UPLOAD_PART_SIZE_MIB": "2"})
    assert len(config.warnings) == 1
    assert "ARTIFACT_S3_UPLOAD_PART_SIZE_MIB" in config.warnings[0]


def test_the_executor_retry_backoff_is_read_from_its_four_variables() -> None:
    backoff = settings(
        EXECUTOR_RETRY_BACKOFF_STEPS="3",
        EXECUTOR_RETRY_BACKOFF_DURATION="250ms",
        EXECUTOR_RETRY_BACKOFF_FACTOR="2",
        EXECUTOR_RETRY_BACKOFF_JITTER="0.1",
    ).backoff
    assert backoff == Backoff(steps=3, duration=0.25, factor=2.0, jitter=0.1)


def test_an_invalid_backoff_duration_keeps_the_default() -> None:
    assert settings(EXECUTOR_RETRY_BACKOFF_DURATION="soon").backoff.duration == 1.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("10ms", 0.01), ("1m30s", 90.0), ("1.5h", 5400.0), ("0", 0.0), ("2us", 2e-6)],
)
def test_go_durations_are_parsed(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1", "s", "1x", "1s2"])
def test_malformed_go_durations_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_go_duration(text)


def test_the_transient_error_pattern_must_be_a_valid_regex() -> None:
    assert settings(TRANSIENT_ERROR_PATTERN="this error is transient").transient_error_pattern == (
        "this error is transient"
    )
    config = ExecutorConfig.from_environ({"TRANSIENT_ERROR_PATTERN": "(unclosed"})
    assert config.settings.transient_error_pattern is None
    assert "TRANSIENT_ERROR_PATTERN" in config.warnings[0]


def test_the_gcs_emulator_host_becomes_an_endpoint_url() -> None:
    assert settings(STORAGE_EMULATOR_HOST="127.0.0.1:4443").gcs_endpoint == "http://127.0.0.1:4443"
    assert settings(STORAGE_EMULATOR_HOST="https://gcs:1").gcs_endpoint == "https://gcs:1"


def test_paths_come_from_ssh_known_hosts_tmpdir_and_the_ca_bundle() -> None:
    s = settings(
        SSH_KNOWN_HOSTS="/etc/ssh/known", TMPDIR="/scratch", ARGOEXEC_HTTP_CA_BUNDLE="/ca.pem"
    )
    assert s.ssh_known_hosts == Path("/etc/ssh/known")
    assert s.tmp_dir == Path("/scratch")
    assert s.http_ca_bundle == Path("/ca.pem")


def test_our_own_knobs_use_the_argoexec_prefix_and_their_units() -> None:
    s = settings(
        ARGOEXEC_DOWNLOAD_THREADS="8",
        ARGOEXEC_DOWNLOAD_CHUNK_MIB="16",
        ARGOEXEC_PARALLEL_DOWNLOAD_THRESHOLD_MIB="32",
        ARGOEXEC_DIR_WORKERS="4",
        ARGOEXEC_COMPRESSION_LEVEL="6",
        ARGOEXEC_COMPRESSION_THREADS="3",
        ARGOEXEC_MAX_EXTRACT_BYTES="1000",
        ARGOEXEC_CONNECT_TIMEOUT="2.5",
        ARGOEXEC_READ_TIMEOUT="30",
    )
    assert (s.download_threads, s.download_chunk_size) == (8, 16 * MIB)
    assert s.parallel_download_threshold == 32 * MIB
    assert (s.dir_workers, s.default_compression_level, s.compression_threads) == (4, 6, 3)
    assert s.max_extract_bytes == 1000
    assert (s.connect_timeout, s.read_timeout) == (2.5, 30.0)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ARGOEXEC_COMPRESSION_LEVEL", "10"),
        ("ARGOEXEC_DIR_WORKERS", "0"),
        ("ARGOEXEC_MAX_EXTRACT_BYTES", "-1"),
        ("ARGOEXEC_READ_TIMEOUT", "nan"),
    ],
)
def test_out_of_range_knobs_keep_their_defaults(name: str, value: str) -> None:
    config = ExecutorConfig.from_environ({name: value})
    assert config.settings == TransferSettings()
    assert name in config.warnings[0]


@pytest.mark.parametrize(("value", "cap"), [(None, None), ("0", 0), ("5000000000", 5_000_000_000)])
def test_the_extract_cap_defaults_to_a_share_of_the_free_space(
    value: str | None, cap: int | None
) -> None:
    # None is resolved per extraction (artifacts.archive_safety.SizeCap); 0 means no cap.
    env = {} if value is None else {"ARGOEXEC_MAX_EXTRACT_BYTES": value}
    assert settings(**env).max_extract_bytes == cap


def test_an_invalid_extract_cap_keeps_the_default_and_says_so() -> None:
    config = ExecutorConfig.from_environ({"ARGOEXEC_MAX_EXTRACT_BYTES": "10GB"})
    assert config.settings.max_extract_bytes is None
    assert config.warnings == (
        "ignoring ARGOEXEC_MAX_EXTRACT_BYTES='10GB': not valid (bytes, 0 = no cap; unset = half "
        "the free disk space); using the default",
    )


def test_run_hands_on_only_the_executor_tuning_variables_that_are_set() -> None:
    env = {
        "ARGOEXEC_MAX_EXTRACT_BYTES": "0",
        "EXECUTOR_RETRY_BACKOFF_STEPS": "2",
        "ARGOEXEC_DIR_WORKERS": "  ",
        "SSH_KNOWN_HOSTS": "/host/known_hosts",
        "HOME": "/root",
    }
    assert executor_env(env) == (
        ("EXECUTOR_RETRY_BACKOFF_STEPS", "2"),
        ("ARGOEXEC_MAX_EXTRACT_BYTES", "0"),
    )


def test_the_run_limits_and_the_output_parameters_cap_come_from_the_environment() -> None:
    config = ExecutorConfig.from_environ(
        {
            "ARGOEXEC_MAX_CHILDREN": "50",
            "ARGOEXEC_MAX_PODS": "0",
            "ARGOEXEC_MAX_OUTPUT_PARAMETERS_BYTES": "4096",
        }
    )
    assert (config.run_limits.max_children, config.run_limits.max_pods) == (50, 0)
    assert config.max_output_parameters_bytes == 4096
    unset = ExecutorConfig.from_environ({})
    assert (unset.run_limits.max_children, unset.run_limits.max_pods) == (None, None)
    assert unset.max_output_parameters_bytes == 1572864


@pytest.mark.parametrize(
    "name", ["ARGOEXEC_MAX_CHILDREN", "ARGOEXEC_MAX_PODS", "ARGOEXEC_MAX_OUTPUT_PARAMETERS_BYTES"]
)
def test_a_negative_or_unparsable_limit_keeps_its_default_with_a_warning(name: str) -> None:
    defaults = ExecutorConfig.from_environ({})
    for value in ("-1", "many"):
        config = ExecutorConfig.from_environ({name: value})
        assert config.run_limits == defaults.run_limits
        assert config.max_output_parameters_bytes == defaults.max_output_parameters_bytes
        assert name in config.warnings[0]


def test_blank_values_count_as_unset() -> None:
    config = ExecutorConfig.from_environ({"ARTIFACT_S3_UPLOAD_THREADS": "  "})
    assert config.settings.upload_threads == 4
    assert config.warnings == ()


def test_kubeconfig_is_a_colon_separated_list_of_paths() -> None:
    config = ExecutorConfig.from_environ({"KUBECONFIG": "/a/config::/b/config"})
    assert config.kubeconfig == (Path("/a/config"), Path("/b/config"))


def test_the_environment_is_available_only_by_explicit_name_and_never_in_repr() -> None:
    config = ExecutorConfig.from_environ({"MY_TOKEN": "tok-123456"})
    assert config.env_value("MY_TOKEN") == "tok-123456"
    assert config.env_value("OTHER") is None
    assert "tok-123456" not in repr(config)


def test_the_process_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARTIFACT_S3_UPLOAD_THREADS", "7")
    assert ExecutorConfig.from_process().settings.upload_threads == 7
