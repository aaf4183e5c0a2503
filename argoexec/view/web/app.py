"""The web view's application: pages (HTML shells; the data is rendered by the pages' own
scripts with text-only DOM calls) and a JSON API under Argo Server's paths
(``/api/v1/workflows/{namespace}/{name}``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from flask import Flask, Response, abort, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from argoexec.view.web import streams
from argoexec.view.web.api import register_api
from argoexec.view.web.runs import NotFoundError, RunSource
from argoexec.view.web.security import Guard, harden

_HERE = Path(__file__).parent


def create_app(source: RunSource, guard: Guard, *, root: Path, environ: Mapping[str, str]) -> Flask:
    """The application over `source`; `root` is the state directory the actions run on,
    with `environ` (the view's environment)."""
    app = Flask(
        "argoexec.view.web",
        static_folder=str(_HERE / "static"),
        template_folder=str(_HERE / "templates"),
    )
    app.config["SOURCE"] = source
    app.config["ROOT"] = root

    @app.before_request
    def guarded() -> BaseResponse | None:
        return guard.check(request)

    app.after_request(harden)

    @app.errorhandler(NotFoundError)
    def not_found(exc: NotFoundError) -> tuple[str, int, dict[str, str]]:
        return f"{exc}\n", 404, {"Content-Type": "text/plain; charset=utf-8"}

    @app.get("/")
    @app.get("/workflows")
    @app.get("/workflows/<namespace>")
    def workflow_list(namespace: str = "") -> str:
        return render_template("list.html", namespace=namespace)

    @app.get("/workflows/<namespace>/<name>")
    def workflow_page(namespace: str, name: str) -> str:
        source.workflow(namespace, name)  # a 404 for a workflow that is not there
        return render_template("run.html", namespace=namespace, name=name)

    @app.get("/favicon.ico")
    def favicon() -> Response:
        abort(404)

    register_api(app, source, root, environ)
    streams.register(app, source)
    return app
