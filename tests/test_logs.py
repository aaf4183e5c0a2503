"""Executor log lines: Argo's text/json formats, level aliases and secret redaction."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from argoexec.logs import parse_level, setup_logging
from artifacts.secrets import register_secret


@pytest.fixture
def capture() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    stream = io.StringIO()
    yield stream
    root.handlers[:] = before[0]
    root.setLevel(before[1])


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


@pytest.mark.parametrize(
    ("name", "level"),
    [
        ("debug", logging.DEBUG),
        ("trace", logging.DEBUG),
        ("info", logging.INFO),
        ("print", logging.INFO),
        ("warn", logging.WARNING),
        ("error", logging.ERROR),
        ("fatal", logging.ERROR),
        ("panic", logging.ERROR),
        ("INFO", logging.INFO),
    ],
)
def test_argo_level_names_and_their_legacy_aliases(name: str, level: int) -> None:
    assert parse_level(name) == level


def test_an_unknown_level_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        parse_level("loud")


def test_text_lines_look_like_slog_with_argo_true(capture: io.StringIO) -> None:
    setup_logging("info", "text", capture)
    logging.getLogger("argoexec.test").info(
        "Save artifact", extra={"artifact": "out", "key": "wf/pod/out.tgz", "bytes": 12}
    )
    (line,) = lines(capture)
    assert line.startswith("time=")
    assert (
        ' level=INFO msg="Save artifact" argo=true artifact=out key=wf/pod/out.tgz bytes=12' in line
    )


def test_text_values_with_spaces_or_quotes_are_quoted(capture: io.StringIO) -> None:
    setup_logging("info", "text", capture)
    logging.getLogger("t").warning("x", extra={"error": 'said "no" twice', "empty": ""})
    (line,) = lines(capture)
    assert 'level=WARN msg=x argo=true error="said \\"no\\" twice" empty=""' in line


def test_json_lines_are_one_object_each(capture: io.StringIO) -> None:
    setup_logging("debug", "json", capture)
    log = logging.getLogger("t")
    log.debug("first", extra={"n": 1})
    log.error("second")
    first, second = (json.loads(line) for line in lines(capture))
    assert first["level"] == "DEBUG"
    assert first["msg"] == "first"
    assert first["argo"] is True
    assert first["n"] == 1
    assert second["level"] == "ERROR"
    assert set(first) >= {"time", "level", "msg", "argo"}


def test_records_below_the_level_are_dropped(capture: io.StringIO) -> None:
    setup_logging("warn", "text", capture)
    logging.getLogger("t").info("quiet")
    assert lines(capture) == []


def test_secrets_in_messages_and_extra_fields_are_redacted(capture: io.StringIO) -> None:
    register_secret("super-secret-value-42")
    setup_logging("info", "json", capture)
    logging.getLogger("t").info(
        "got %s",
        "super-secret-value-42",
        extra={"header": "Bearer super-secret-value-42", "nested": {"k": "super-secret-value-42"}},
    )
    text = capture.getvalue()
    assert "super-secret-value-42" not in text
    record = json.loads(text)
    assert record["msg"] == "got ***"
    assert record["header"] == "Bearer ***"


def test_secrets_in_exception_text_are_redacted(capture: io.StringIO) -> None:
    register_secret("another-secret-99")
    setup_logging("info", "text", capture)
    try:
        raise RuntimeError("failed with another-secret-99")
    except RuntimeError:
        logging.getLogger("t").exception("boom")
    assert "another-secret-99" not in capture.getvalue()
    assert "RuntimeError: failed with ***" in capture.getvalue()


def test_library_records_are_redacted_too(capture: io.StringIO) -> None:
    register_secret("lib-secret-77777")
    setup_logging("debug", "text", capture)
    logging.getLogger("some.library").warning("token lib-secret-77777 rejected")
    assert "lib-secret-77777" not in capture.getvalue()


def test_setting_up_twice_keeps_one_handler(capture: io.StringIO) -> None:
    setup_logging("info", "text", capture)
    setup_logging("info", "json", capture)
    logging.getLogger("t").info("once")
    assert len(lines(capture)) == 1


def test_an_unknown_format_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown log format"):
        setup_logging("info", "xml")
