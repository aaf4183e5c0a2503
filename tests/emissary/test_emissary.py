"""The emissary's behaviour as a process (argo-contract.md §2, upstream emissary_test.go)."""

from __future__ import annotations

import signal
import tarfile
import time
from pathlib import Path

from tests.emissary.conftest import Emissary


def sh(script: str) -> tuple[str, str, str]:
    return ("sh", "-c", script)


def test_a_successful_command_exits_zero_and_writes_exitcode_0(emissary: Emissary) -> None:
    result = emissary.run(*sh("exit"))
    assert result.returncode == 0
    assert emissary.exitcode() == "0"


def test_a_failing_command_exits_with_its_own_code(emissary: Emissary) -> None:
    result = emissary.run(*sh("exit 3"))
    assert result.returncode == 3
    assert emissary.exitcode() == "3"


def test_stdout_is_captured_and_still_passed_through(emissary: Emissary) -> None:
    result = emissary.run(*sh("echo hello"))
    assert result.stdout == b"hello\n"
    assert emissary.file("ctr", "main", "stdout").read_bytes() == b"hello\n"


def test_stderr_goes_to_combined_but_not_to_stdout(emissary: Emissary) -> None:
    emissary.run(*sh("echo out; echo err >&2"))
    assert emissary.file("ctr", "main", "stdout").read_bytes() == b"out\n"
    combined = emissary.file("ctr", "main", "combined").read_bytes()
    assert b"out\n" in combined
    assert b"err\n" in combined


def test_emissary_log_lines_stay_out_of_the_capture_files(emissary: Emissary) -> None:
    result = emissary.run(*sh("echo hi"), ARGO_CONTAINER_NAME="other")
    assert b"argo=true" in result.stderr
    assert b"argo=true" not in emissary.file("ctr", "other", "combined").read_bytes()


def test_capture_files_are_not_created_when_no_result_or_logs_are_needed(
    emissary: Emissary,
) -> None:
    result = emissary.run(*sh("echo hi"), ARGO_INCLUDE_SCRIPT_OUTPUT="false")
    assert result.stdout == b"hi\n"
    assert not emissary.file("ctr", "main", "stdout").exists()


def test_archive_logs_turns_capture_on(emissary: Emissary) -> None:
    emissary.write_template({"archiveLocation": {"archiveLogs": True}})
    emissary.run(*sh("echo logged"), ARGO_INCLUDE_SCRIPT_OUTPUT="false")
    assert emissary.file("ctr", "main", "combined").read_bytes() == b"logged\n"


def test_a_background_job_does_not_delay_completion(emissary: Emissary) -> None:
    started = time.monotonic()
    result = emissary.run(*sh("(sleep 60; echo late) > /dev/null 2>&1 & printf hello"))
    assert result.returncode == 0
    assert time.monotonic() - started < 30  # generous: proves we did not wait 60 s
    assert emissary.file("ctr", "main", "stdout").read_bytes() == b"hello"


def test_a_signal_file_written_before_start_is_delivered_and_consumed(emissary: Emissary) -> None:
    ctr = emissary.file("ctr", "main")
    ctr.mkdir(parents=True)
    (ctr / "signal").write_text("15")
    result = emissary.run(*sh("sleep 20"))
    assert result.returncode == 143
    assert emissary.exitcode() == "143"
    assert not (ctr / "signal").exists()


def test_a_sigkill_in_the_signal_file_gives_137(emissary: Emissary) -> None:
    ctr = emissary.file("ctr", "main")
    ctr.mkdir(parents=True)
    (ctr / "signal").write_text("9\n")
    assert emissary.run(*sh("sleep 20")).returncode == 137


def test_sigterm_to_the_emissary_is_forwarded_to_the_child(emissary: Emissary) -> None:
    proc = emissary.start(*sh("trap 'echo got-term; exit 7' TERM; while :; do sleep 0.05; done"))
    marker = emissary.file("ctr", "main", "stdout")
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # let the shell install its trap
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 7
    assert b"got-term" in out


def test_a_missing_program_exits_64_with_a_termination_message(emissary: Emissary) -> None:
    result = emissary.run("no-such-program-xyz")
    assert result.returncode == 64
    assert emissary.exitcode() == "64"
    assert "failed to find name in PATH" in emissary.termination_log.read_text()


def test_an_unreadable_template_exits_64(emissary: Emissary) -> None:
    emissary.file("template").write_text("{not json")
    result = emissary.run(*sh("exit 0"))
    assert result.returncode == 64
    assert "failed to unmarshal template" in emissary.termination_log.read_text()


def test_the_template_file_wins_over_the_environment(emissary: Emissary) -> None:
    emissary.write_template({"name": "from-file", "archiveLocation": {"archiveLogs": True}})
    emissary.run(*sh("echo x"), ARGO_TEMPLATE='{"name": "from-env"}', ARGO_INCLUDE_SCRIPT_OUTPUT="")
    assert emissary.file("ctr", "main", "combined").exists()


def test_the_environment_template_is_used_when_there_is_no_file(emissary: Emissary) -> None:
    emissary.file("template").unlink()
    env_template = '{"archiveLocation": {"archiveLogs": true}}'
    result = emissary.run(*sh("echo x"), ARGO_TEMPLATE=env_template, ARGO_INCLUDE_SCRIPT_OUTPUT="")
    assert result.returncode == 0
    assert emissary.file("ctr", "main", "combined").exists()


def test_no_template_at_all_is_an_error(emissary: Emissary) -> None:
    emissary.file("template").unlink()
    result = emissary.run(*sh("exit 0"))
    assert result.returncode == 64
    assert "neither" in emissary.termination_log.read_text()


def test_an_output_parameter_file_is_copied(emissary: Emissary) -> None:
    param = emissary.work / "parameter"
    emissary.write_template(
        {"outputs": {"parameters": [{"name": "p", "valueFrom": {"path": str(param)}}]}}
    )
    emissary.run(*sh(f"printf hello > {param}"))
    copied = emissary.root / "outputs" / "parameters" / str(param).lstrip("/")
    assert copied.read_text() == "hello"


def test_an_output_artifact_is_archived_without_its_trailing_slash(emissary: Emissary) -> None:
    art = emissary.work / "artifact"
    emissary.write_template({"outputs": {"artifacts": [{"name": "a", "path": f"{art}/"}]}})
    emissary.run(*sh(f"mkdir -p {art}/sub && echo data > {art}/sub/f.txt"))
    tgz = emissary.root / "outputs" / "artifacts" / f"{str(art).lstrip('/')}.tgz"
    with tarfile.open(tgz, "r:gz") as tar:
        names = tar.getnames()
    assert names == ["artifact", "artifact/sub", "artifact/sub/f.txt"]


def test_outputs_inside_a_volume_mount_are_left_to_the_wait_container(
    emissary: Emissary,
) -> None:
    vol = emissary.work / "vol"
    emissary.write_template(
        {
            "container": {"volumeMounts": [{"name": "v", "mountPath": str(vol)}]},
            "outputs": {"artifacts": [{"name": "a", "path": f"{vol}/out"}]},
        }
    )
    emissary.run(*sh(f"mkdir -p {vol} && echo x > {vol}/out"))
    assert not (emissary.root / "outputs").exists()


def test_a_missing_output_is_skipped_not_fatal(emissary: Emissary) -> None:
    emissary.write_template({"outputs": {"artifacts": [{"name": "a", "path": "/nonexistent/x"}]}})
    assert emissary.run(*sh("exit 0")).returncode == 0


def test_only_the_main_container_copies_outputs(emissary: Emissary) -> None:
    param = emissary.work / "p"
    emissary.write_template(
        {"outputs": {"parameters": [{"name": "p", "valueFrom": {"path": str(param)}}]}}
    )
    emissary.run(*sh(f"echo x > {param}"), ARGO_CONTAINER_NAME="sidecar-ish")
    assert not (emissary.root / "outputs").exists()


def test_container_set_retries_run_until_success(emissary: Emissary) -> None:
    emissary.write_template(
        {"containerSet": {"containers": [{"name": "main"}], "retryStrategy": {"retries": 1}}}
    )
    result = emissary.run(*sh("test -e marker && exit 0; touch marker; exit 1"))
    assert result.returncode == 0


def test_container_set_retries_are_retries_not_total_attempts(emissary: Emissary) -> None:
    emissary.write_template(
        {"containerSet": {"containers": [{"name": "main"}], "retryStrategy": {"retries": 1}}}
    )
    result = emissary.run(*sh("echo run >> count; exit 1"))
    assert result.returncode == 1
    assert (emissary.work / "count").read_text() == "run\nrun\n"


def test_a_failed_dependency_stops_the_container_before_it_runs(emissary: Emissary) -> None:
    emissary.write_template(
        {"containerSet": {"containers": [{"name": "a"}, {"name": "b", "dependencies": ["a"]}]}}
    )
    dep = emissary.file("ctr", "a")
    dep.mkdir(parents=True)
    (dep / "exitcode").write_text("3")
    result = emissary.run(*sh("touch ran"), ARGO_CONTAINER_NAME="b")
    assert result.returncode == 64
    assert emissary.exitcode("b") == "3"
    assert not (emissary.work / "ran").exists()
    assert 'dependency "a" exited with non-zero code: 3' in emissary.termination_log.read_text()


def test_a_dependency_that_succeeds_lets_the_container_run(emissary: Emissary) -> None:
    emissary.write_template(
        {"containerSet": {"containers": [{"name": "a"}, {"name": "b", "dependencies": ["a"]}]}}
    )
    dep = emissary.file("ctr", "a")
    dep.mkdir(parents=True)
    (dep / "exitcode").write_text("0")
    assert emissary.run(*sh("touch ran"), ARGO_CONTAINER_NAME="b").returncode == 0
    assert (emissary.work / "ran").exists()


def test_the_deadline_terminates_the_child(emissary: Emissary) -> None:
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    result = emissary.run(*sh("sleep 30"), ARGO_DEADLINE=soon)
    assert result.returncode == 143
    assert "deadline" in emissary.termination_log.read_text()


def test_a_long_argument_from_the_args_file_is_passed_as_an_at_file(emissary: Emissary) -> None:
    args = emissary.work / "args.json"
    big = "x" * 140_000
    args.write_text(f'["{big}"]')
    script = 'case "$1" in @*) cat "${1#@}" | wc -c;; *) echo inline;; esac'
    result = emissary.run("sh", "-c", script, "sh", ARGO_CONTAINER_ARGS_FILE=str(args))
    assert result.stdout.strip() == b"140000"


def test_the_exit_code_file_is_the_last_thing_written(emissary: Emissary) -> None:
    emissary.write_template(
        {"outputs": {"parameters": [{"name": "p", "valueFrom": {"path": "/x"}}]}}
    )
    emissary.run(*sh("exit 0"))
    exitcode = emissary.file("ctr", "main", "exitcode")
    others = [p for p in emissary.root.rglob("*") if p.is_file() and p != exitcode]
    assert all(p.stat().st_mtime_ns <= exitcode.stat().st_mtime_ns for p in others)


def test_shared_files_are_writable_by_other_users(emissary: Emissary) -> None:
    emissary.run(*sh("echo x"))
    assert emissary.file("ctr", "main").stat().st_mode & 0o777 == 0o777
    assert emissary.file("ctr", "main", "stdout").stat().st_mode & 0o777 == 0o666
    assert emissary.file("ctr", "main", "exitcode").stat().st_mode & 0o777 == 0o644


def test_zombies_of_orphaned_grandchildren_are_reaped(emissary: Emissary, tmp_path: Path) -> None:
    # The emissary is a subreaper only as PID 1; here we check it does not hang on orphans.
    result = emissary.run(*sh("sh -c 'sleep 0.2 &' ; sleep 0.5; echo done"))
    assert result.returncode == 0
    assert result.stdout == b"done\n"


def test_a_sigterm_before_the_child_starts_still_reaches_it(emissary: Emissary) -> None:
    """The controller may kill a container the moment it appears; the emissary must not die of
    it without an exit code, and the child must still get the signal."""
    proc = emissary.start(*sh("sleep 20"), ARGO_DEBUG_PAUSE_BEFORE="true")
    ctr = emissary.file("ctr", "main")
    deadline = time.monotonic() + 20
    while not ctr.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)  # while the emissary is paused before starting the child
    time.sleep(0.2)
    (ctr / "before").touch()
    proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert emissary.exitcode() == "143"


def test_container_set_retry_pauses_use_go_durations(emissary: Emissary) -> None:
    strategy = {"retries": 1, "duration": "10ms"}
    emissary.write_template(
        {"containerSet": {"containers": [{"name": "main"}], "retryStrategy": strategy}}
    )
    assert emissary.run(*sh("echo run >> count; exit 1")).returncode == 1
    strategy["duration"] = "ten seconds"
    emissary.write_template(
        {"containerSet": {"containers": [{"name": "main"}], "retryStrategy": strategy}}
    )
    result = emissary.run(*sh("exit 0"))
    assert result.returncode == 64
    assert "invalid containerSet retryStrategy duration" in emissary.termination_log.read_text()
