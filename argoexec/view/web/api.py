"""The web view's JSON API: workflows, the graph, artifacts and actions."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import quote

from flask import Flask, Response, jsonify, request, send_file

from argoexec.controller.render import pod_name_of
from argoexec.models import Artifact
from argoexec.view.dot import GraphError, to_dot, to_svg
from argoexec.view.web import actions
from argoexec.view.web.artifacts import (
    DirectoryArtifactError,
    MissingArtifactError,
    file_name,
    locate,
    look_into,
    open_artifact,
)
from argoexec.view.web.runs import NotFoundError, RunSource, summary

# Drawn graphs kept (by workflow version): a page following a run asks once per change.
_GRAPHS_KEPT = 32
# How long the view lets Graphviz draw one graph (the tree shows any run at once).
DOT_SECONDS = 20.0


class _Graphs:
    """SVGs of workflow versions, the newest few kept — a failure too, so a graph Graphviz
    cannot draw in time is not tried again at every change. One `dot` runs at a time (a
    machine's cores are the runs'); pages asking for a graph being drawn wait for it."""

    def __init__(self) -> None:
        self.kept: OrderedDict[str, str | GraphError] = OrderedDict()
        self.drawing: dict[str, threading.Event] = {}
        self.lock = threading.Lock()
        self.dot = threading.Semaphore(1)

    def svg(self, key: str, workflow: dict[str, Any]) -> str:
        while True:
            with self.lock:
                if key in self.kept:
                    self.kept.move_to_end(key)
                    return _svg_or_raise(self.kept[key])
                waiting = self.drawing.get(key)
                if waiting is None:
                    self.drawing[key] = threading.Event()
            if waiting is None:
                return _svg_or_raise(self._draw(key, workflow))
            waiting.wait()

    def _draw(self, key: str, workflow: dict[str, Any]) -> str | GraphError:
        from argoexec.view.graph import workflow_graph

        result: str | GraphError = GraphError("the graph could not be drawn")
        try:
            with self.dot:
                dot = to_dot(workflow_graph(workflow), href=lambda node: f"#node={quote(node)}")
                result = to_svg(dot, timeout=DOT_SECONDS)
        except GraphError as exc:
            result = exc
        finally:
            with self.lock:
                self.kept[key] = result
                while len(self.kept) > _GRAPHS_KEPT:
                    self.kept.popitem(last=False)
                self.drawing.pop(key).set()
        return result


def _svg_or_raise(found: str | GraphError) -> str:
    if isinstance(found, GraphError):
        raise found
    return found


def register_api(app: Flask, source: RunSource, root: Path, environ: Mapping[str, str]) -> None:
    graphs = _Graphs()
    base = "/api/v1/workflows"

    @app.get(base)
    def api_list() -> Response:
        rows = [summary(wf, gone) for wf, gone in source.workflows()]
        return jsonify({"items": rows})

    @app.get(f"{base}/<namespace>/<name>")
    def api_get(namespace: str, name: str) -> Response:
        version = source.version(namespace, name)  # first: never newer than the answer
        answer = jsonify(source.workflow(namespace, name))
        answer.headers["X-Workflow-Version"] = version
        return answer

    @app.get(f"{base}/<namespace>/<name>/graph.svg")
    def api_graph(namespace: str, name: str) -> Response:
        version = source.version(namespace, name)
        workflow = source.workflow(namespace, name)
        try:
            svg = graphs.svg(f"{namespace}/{name}/{version}", workflow)
        except GraphError as exc:
            return Response(f"{exc}\n", status=503, mimetype="text/plain")
        return Response(svg, mimetype="image/svg+xml")

    @app.get(f"{base}/<namespace>/<name>/nodes/<node_id>/containers")
    def api_containers(namespace: str, name: str, node_id: str) -> Response:
        workflow, node = source.node(namespace, name, node_id)
        containers = source.containers(namespace, name, node_id)
        return jsonify({"pod": pod_name_of(workflow, node), "containers": containers})

    _artifact_routes(app, source, root, base)
    _action_routes(app, source, root, base, environ)


def _artifact_routes(app: Flask, source: RunSource, root: Path, base: str) -> None:
    from argoexec.controller.loop.local import run_driver_context
    from artifacts.errors import ArtifactError
    from artifacts.secrets import redact

    def located(namespace: str, name: str, node_id: str, artifact: str) -> Artifact:
        workflow, node = source.node(namespace, name, node_id)
        try:
            return locate(workflow, node, artifact)
        except MissingArtifactError as exc:
            raise NotFoundError(str(exc)) from None

    @app.errorhandler(ArtifactError)
    def failed(exc: ArtifactError) -> Response:
        # The drivers' messages name the artifact and its location; the secrets they resolved
        # are redacted all the same.
        text = redact(str(exc))
        return Response(f"cannot read the artifact: {text}\n", status=502, mimetype="text/plain")

    @app.errorhandler(DirectoryArtifactError)
    def directory(exc: DirectoryArtifactError) -> Response:
        return Response(f"{exc}\n", status=422, mimetype="text/plain")

    @app.get(f"{base}/<namespace>/<name>/nodes/<node_id>/artifacts/<artifact>")
    def api_artifact(namespace: str, name: str, node_id: str, artifact: str) -> Response:
        found = located(namespace, name, node_id, artifact)
        stream = open_artifact(found, run_driver_context(root, name))
        return send_file(
            cast("IO[bytes]", stream),  # it only reads and closes it
            mimetype="application/octet-stream",
            as_attachment=True,
            download_name=file_name(found),
            conditional=False,
        )

    @app.get(f"{base}/<namespace>/<name>/nodes/<node_id>/artifacts/<artifact>/preview")
    def api_preview(namespace: str, name: str, node_id: str, artifact: str) -> Response:
        found = located(namespace, name, node_id, artifact)
        shown = look_into(found, run_driver_context(root, name))
        return jsonify({**shown, "filename": file_name(found)})


def _action_routes(
    app: Flask, source: RunSource, root: Path, base: str, environ: Mapping[str, str]
) -> None:
    @app.post(f"{base}/<namespace>/<name>/actions/<verb>")
    def api_action(namespace: str, name: str, verb: str) -> tuple[Response, int]:
        source.workflow(namespace, name)  # a 404 for a workflow that is not there
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify({"ok": False, "output": "the body is a JSON object"}), 400
        parameters = body.get("parameters") or {}
        node = body.get("node") or None
        if (
            not isinstance(parameters, dict)
            or not all(isinstance(v, str) for v in parameters.values())
            or (node is not None and not isinstance(node, str))
        ):
            return jsonify({"ok": False, "output": "parameters are NAME: text; node is text"}), 400
        try:
            argv = actions.command_line(root, verb, name, parameters, node)
        except actions.ActionError as exc:
            return jsonify({"ok": False, "output": str(exc)}), 400
        outcome = actions.run_action(argv, verb, cwd=root, environ=environ)
        answer = {
            "ok": outcome.ok,
            "finished": outcome.finished,
            "output": outcome.output,
            "submitted": outcome.submitted,
        }
        return jsonify(answer), 200 if outcome.ok else 409
