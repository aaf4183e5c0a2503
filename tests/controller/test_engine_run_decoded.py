"""The engine runs documents as ``load_documents`` decoded them: with ``strict=False`` (``argo
submit --strict=false``) a field named in another case is the field it names, an unknown field is
gone, and parameter values written as numbers or booleans are Argo's text, in the workflow and in
the WorkflowTemplates it references.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from argoexec.controller.loop.options import EngineError
from argoexec.controller.workflow.documents import load_documents
from tests.controller.test_engine_run import run_workflow

DOCUMENTS = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: decoded, annotation: {a: b}}
spec:
  entrypoint: main
  Arguments:
    parameters:
      - {name: big, value: 1.0e+21}
      - {name: ratio, value: 0.50}
  templates:
    - name: main
      steps:
        - - name: show
            templateRef: {name: lib, template: show}
            arguments:
              Parameters:
                - {name: text, value: "{{workflow.parameters.big}} {{workflow.parameters.ratio}}"}
                - {name: flag, value: yes}
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: lib}
spec:
  templates:
    - name: show
      inputs: {parameters: [{name: text}, {name: flag}]}
      Script:
        image: alpine
        command: [sh]
        retries: 2
        source: echo "{{inputs.parameters.text}} {{inputs.parameters.flag}}"
"""


def test_the_engine_runs_what_lenient_decoding_made_of_the_documents(tmp_path: Path) -> None:
    source = tmp_path / "docs.yaml"
    source.write_text(textwrap.dedent(DOCUMENTS))
    documents = load_documents([source], strict=False)
    assert documents.problems == []
    assert {w.path for w in documents.warnings} >= {
        "metadata.annotation",
        "spec.Arguments",
        "spec.templates[0].Script",
        "spec.templates[0].Script.retries",
    }
    run = run_workflow(tmp_path, documents.workflows[0], name="decoded", store=documents.templates)
    assert run.phase == "Succeeded", run.explain()
    # Go's AnyString text of 1e21 (not Python's or JSON's "1e+21"), and YAML's `yes`
    assert run.result("decoded[0].show") == "1000000000000000000000 0.5 true"
    assert run.workflow["spec"]["arguments"]["parameters"][0] == {
        "name": "big",
        "value": "1000000000000000000000",
    }
    assert "annotation" not in run.workflow["metadata"]


def test_the_same_documents_undecoded_do_not_run(tmp_path: Path) -> None:
    """Without decoding, `Arguments` and `Script` are nothing the engine knows: the run fails
    (which is why strict mode refuses them and lenient mode renames them first)."""
    source = tmp_path / "docs.yaml"
    source.write_text(textwrap.dedent(DOCUMENTS))
    strict = load_documents([source])
    assert [p.path for p in strict.problems if p.strict_only] == [
        "metadata.annotation",
        "spec.Arguments",
        "spec.templates[0].Script",
    ]
    try:
        run = run_workflow(tmp_path, strict.workflows[0], name="decoded", store=strict.templates)
    except EngineError:
        return
    assert run.phase != "Succeeded", run.explain()
