"""Server-sent events: a workflow's changes (the page fetches it again) and a container's log
as it grows. Each stream is bounded (``STREAM_SECONDS``; the browser's EventSource reconnects,
a log from where it was) and ends when its client goes away."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from flask import Flask, Response, request

from argoexec.controller.render import nodes_of
from argoexec.view.web.runs import LogReader, NotFoundError, RunSource

POLL_SECONDS = 0.5
HEARTBEAT_SECONDS = 15.0
STREAM_SECONDS = 600.0
# The end of a long log a page starts with (the whole is one download away).
LOG_TAIL_BYTES = 1024 * 1024
LOG_CHUNK_BYTES = 256 * 1024
_DONE = frozenset({"Succeeded", "Failed", "Error", "Skipped", "Omitted"})


def _event(data: object, event: str | None = None, ident: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    head += f"id: {ident}\n" if ident else ""
    return f"{head}data: {json.dumps(data)}\n\n"


def _stream(events: Iterator[str]) -> Response:
    answer = Response(events, mimetype="text/event-stream")
    answer.headers["X-Accel-Buffering"] = "no"
    return answer


def register(app: Flask, source: RunSource) -> None:
    base = "/api/v1/workflows"

    @app.get(f"{base}/<namespace>/<name>/watch")
    def watch(namespace: str, name: str) -> Response:
        source.workflow(namespace, name)  # a 404 for a workflow that is not there
        return _stream(_changes(source, namespace, name))

    @app.get(f"{base}/<namespace>/<name>/nodes/<node_id>/log")
    def log(namespace: str, name: str, node_id: str) -> Response:
        reader = source.log(namespace, name, node_id, request.args.get("container", "main"))
        resume = request.headers.get("Last-Event-ID", "")
        if resume.isdigit():  # the browser reconnected: it has what came before
            return _stream(_log(source, (namespace, name, node_id), reader, int(resume)))
        start = _character_start(reader, max(0, reader.read(0, 0).size - LOG_TAIL_BYTES))
        return _stream(_log(source, (namespace, name, node_id), reader, start, skipped=start))

    @app.get(f"{base}/<namespace>/<name>/nodes/<node_id>/log.txt")
    def log_text(namespace: str, name: str, node_id: str) -> Response:
        reader = source.log(namespace, name, node_id, request.args.get("container", "main"))
        # The log as it is now (as `argo logs` without --follow): a log growing faster than
        # it is downloaded would never end.
        end = reader.read(0, 0).size

        def chunks() -> Iterator[bytes]:
            offset = 0
            while offset < end:
                chunk = reader.read(offset, min(LOG_CHUNK_BYTES, end - offset))
                if not chunk.data:
                    return  # gone, or shorter than it was
                offset = chunk.offset
                yield chunk.data

        return Response(chunks(), content_type="text/plain; charset=utf-8")


def _character_start(reader: LogReader, offset: int) -> int:
    """`offset`, moved past UTF-8 continuation bytes: a tail starts with a whole character."""
    head = reader.read(offset, 4).data
    skip = 0
    while skip < len(head) and head[skip] & 0xC0 == 0x80:
        skip += 1
    return offset + skip


def _changes(source: RunSource, namespace: str, name: str) -> Iterator[str]:
    seen = ""
    started = last = time.monotonic()
    while time.monotonic() - started < STREAM_SECONDS:
        version = source.version(namespace, name)
        if version != seen:
            seen = version
            last = time.monotonic()
            yield _event({"version": version}, event="changed")
            if version == "none":
                yield _event({}, event="gone")
                return
        elif time.monotonic() - last > HEARTBEAT_SECONDS:
            last = time.monotonic()
            yield ": still here\n\n"
        time.sleep(POLL_SECONDS)


class _NodeDone:
    """Whether a node has finished; the workflow is read again only when it changed."""

    def __init__(self, source: RunSource, namespace: str, name: str, node_id: str) -> None:
        self.source, self.namespace, self.name, self.node_id = source, namespace, name, node_id
        self.version, self.done = "", False

    def __call__(self) -> bool:
        version = self.source.version(self.namespace, self.name)
        if version != self.version:
            self.version = version
            try:
                workflow = self.source.workflow(self.namespace, self.name)
            except NotFoundError:
                return True
            node = nodes_of(workflow).get(self.node_id) or {}
            self.done = node.get("phase") in _DONE
        return self.done


def whole_characters(data: bytes) -> bytes:
    """`data` without a UTF-8 character cut at its end (the rest comes with the next read)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:
            continue  # a continuation byte: look further back for the lead
        needed = 2 if byte >= 0xC0 else 1
        needed = 3 if byte >= 0xE0 else needed
        needed = 4 if byte >= 0xF0 else needed
        return data[:-back] if back < needed else data
    return data


def _log(
    source: RunSource, node: tuple[str, str, str], reader: LogReader, offset: int, skipped: int = 0
) -> Iterator[str]:
    """The log from `offset` on, as it grows, until its node has finished and it is read;
    first, when the start was `skipped`, how much."""
    node_done = _NodeDone(source, *node)
    if skipped:
        yield _event({"skipped": skipped}, event="skipped")
    started = last = time.monotonic()
    while time.monotonic() - started < STREAM_SECONDS:
        done = node_done()  # before the read: nothing written before it is lost
        chunk = reader.read(offset, LOG_CHUNK_BYTES)
        at_end = chunk.offset >= chunk.size
        # A chunk is cut at a character's end, but for the log's last bytes once it is done.
        data = chunk.data if done and at_end else whole_characters(chunk.data)
        if data:
            offset += len(data)
            last = time.monotonic()
            yield _event(data.decode("utf-8", errors="replace"), ident=str(offset))
            continue
        if done:
            break
        if time.monotonic() - last > HEARTBEAT_SECONDS:
            last = time.monotonic()
            yield ": still here\n\n"
        time.sleep(POLL_SECONDS)
    else:
        return  # the stream's time is up, not the log: the browser reconnects from `offset`
    yield _event({}, event="end")
