"""The web view's JSON API: workflows, the graph, artifacts and actions."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, jsonify, request, send_file

from argoexec.view.web import actions
from argoexec.view.web.artifacts import (
    MissingArtifactError,
    file_name,
    locate,
    open_artifact,
    preview,
)
from argoexec.view.web.runs import NotFoundError, RunSource, summary

# Rendered graphs kept (by workflow version): a page following a run asks once per change.
_GRAPHS_KEPT = 32


class _Graphs:
    """SVGs of workflow versions, the newest few kept."""

    def __init__(self) -> None:
        self.kept: OrderedDict[str, str] = OrderedDict()
        self.lock = threading.Lock()

    def svg(self, key: str, workflow: dict[str, Any]) -> str:
        with self.lock:
            if key in self.kept:
                self.kept.move_to_end(key)
                return self.kept[key]
        from argoexec.view.dot import to_dot, to_svg
        from argoexec.view.graph import workflow_graph

        text = to_svg(to_dot(workflow_graph(workflow), href=lambda node: f"#node={quote(node)}"))
        with self.lock:
            self.kept[key] = text
            while len(self.kept) > _GRAPHS_KEPT:
                self.kept.popitem(last=False)
        return text


def register_api(app: Flask, source: RunSource, root: Path) -> None:
    graphs = _Graphs()
    base = "/api/v1/workflows"

    @app.get(base)
    def api_list() -> Response:
        rows = [summary(wf, gone) for wf, gone in source.workflows()]
        return jsonify({"items": rows})

    @app.get(f"{base}/<namespace>/<name>")
    def api_get(namespace: str, name: str) -> Response:
        workflow = source.workflow(namespace, name)
        answer = jsonify(workflow)
        answer.headers["X-Workflow-Version"] = source.version(namespace, name)
        return answer

    @app.get(f"{base}/<namespace>/<name>/graph.svg")
    def api_graph(namespace: str, name: str) -> Response:
        from argoexec.view.dot import GraphError

        version = source.version(namespace, name)
        workflow = source.workflow(namespace, name)
        try:
            svg = graphs.svg(f"{namespace}/{name}/{version}", workflow)
        except GraphError as exc:
            return Response(f"{exc}\n", status=503, mimetype="text/plain")
        return Response(svg, mimetype="image/svg+xml")

    @app.get(f"{base}/<namespace>/<name>/nodes/<node_id>/containers")
    def api_containers(namespace: str, name: str, node_id: str) -> Response:
        return jsonify({"containers": source.containers(namespace, name, node_id)})

    _artifact_routes(app, source, root, base)
    _action_routes(app, source, root, base)


def _artifact_routes(app: Flask, source: RunSource, root: Path, base: str) -> None:
    from argoexec.controller.loop.local import run_driver_context
    from artifacts.errors import ArtifactError
    from artifacts.secrets import redact

    def opened(namespace: str, name: str, node_id: str, artifact: str) -> tuple[Any, str]:
        workflow, node = source.node(namespace, name, node_id)
        try:
            located = locate(workflow, node, artifact)
        except MissingArtifactError as exc:
            raise NotFoundError(str(exc)) from None
        return open_artifact(located, run_driver_context(root, name)), file_name(located)

    def failed(exc: ArtifactError) -> Response:
        # The drivers' messages name the artifact and its location; the secrets they resolved
        # are redacted all the same.
        text = redact(str(exc))
        return Response(f"cannot read the artifact: {text}\n", status=502, mimetype="text/plain")

    @app.get(f"{base}/<namespace>/<name>/nodes/<node_id>/artifacts/<artifact>")
    def api_artifact(namespace: str, name: str, node_id: str, artifact: str) -> Response:
        try:
            stream, filename = opened(namespace, name, node_id, artifact)
        except ArtifactError as exc:
            return failed(exc)
        return send_file(
            stream,
            mimetype="application/octet-stream",
            as_attachment=True,
            download_name=filename,
            conditional=False,
        )

    @app.get(f"{base}/<namespace>/<name>/nodes/<node_id>/artifacts/<artifact>/preview")
    def api_preview(namespace: str, name: str, node_id: str, artifact: str) -> Response:
        try:
            stream, filename = opened(namespace, name, node_id, artifact)
            try:
                shown = preview(stream)
            finally:
                stream.close()
        except ArtifactError as exc:
            return failed(exc)
        return jsonify({**shown, "filename": filename})


def _action_routes(app: Flask, source: RunSource, root: Path, base: str) -> None:
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
        outcome = actions.run_action(argv, verb)
        answer = {
            "ok": outcome.ok,
            "finished": outcome.finished,
            "output": outcome.output,
            "submitted": outcome.submitted,
        }
        return jsonify(answer), 200 if outcome.ok else 409
