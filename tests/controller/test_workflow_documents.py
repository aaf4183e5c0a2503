"""Loading workflow documents, the template store, workflowTemplateRef merging, names."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from argoexec.controller.workflow.documents import (
    DocumentError,
    TemplateReferenceError,
    TemplateStore,
    load_documents,
    merge_workflow_template,
    workflow_name,
    workflow_owner,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


WFT = """\
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: lib
spec:
  entrypoint: main
  arguments:
    parameters:
      - {name: who, value: template, enum: [template, workflow]}
      - {name: greeting, value: hello}
      - {name: free, description: from the template}
    artifacts:
      - {name: data, path: /data, s3: {bucket: lib-bucket, key: old}}
      - {name: page, s3: {bucket: lib-bucket, key: page}}
  suspend: true
  podGC: {strategy: OnPodSuccess, deleteDelayDuration: 30s}
  templates:
    - name: main
      steps:
        - - {name: one, template: echo}
    - name: echo
      container: {image: alpine, command: [echo, template]}
"""
CWFT = """\
apiVersion: argoproj.io/v1alpha1
kind: ClusterWorkflowTemplate
metadata:
  name: lib
spec:
  templates:
    - name: cluster-only
      container: {image: alpine}
"""


def test_loads_workflows_templates_and_config_maps_from_one_stream(tmp_path: Path) -> None:
    source = write(
        tmp_path / "wf.yaml",
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings}
        data: {colour: blue}
        ---
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {name: first}
        spec: {entrypoint: a, templates: [{name: a, container: {image: x}}]}
        ---
        ---
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {name: second}
        spec:
          arguments:
            parameters: [{name: day, value: 2024-01-02}]
        """,
    )
    write(tmp_path / "lib.yaml", WFT)
    docs = load_documents([source, str(tmp_path / "lib.yaml")])
    assert [wf["metadata"]["name"] for wf in docs.workflows] == ["first", "second"]
    assert docs.workflow_sources == [str(source), str(source)]
    assert docs.config_maps == {"settings": {"colour": "blue"}}
    assert docs.templates.names(cluster_scope=False) == ["lib"]
    # Timestamps stay strings, as Kubernetes' YAML reader keeps them.
    assert docs.workflows[1]["spec"]["arguments"]["parameters"][0]["value"] == "2024-01-02"


def test_invalid_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", "kind: Workflow\nspec:\n  templates: [a, b\n  x: 1\n")
    with pytest.raises(DocumentError) as caught:
        load_documents([bad])
    assert caught.value.file == str(bad)
    assert caught.value.line == 4
    assert re.match(rf"{re.escape(str(bad))}:4:\d+: invalid YAML: ", str(caught.value))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: Workflow\n---\n- a list\n", "missing `apiVersion`"),
        ("apiVersion: v1\nkind: Workflow\n---\n- a list\n", "apiVersion `v1` is not"),
        ("apiVersion: argoproj.io/v1alpha1\nkind: Pod\n", "unknown kind `Pod`"),
        ("apiVersion: argoproj.io/v1alpha1\n", "missing `kind`"),
    ],
)
def test_bad_documents_name_the_file_and_document(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "x.yaml", text)
    with pytest.raises(DocumentError, match=re.escape(message)) as caught:
        load_documents([path])
    assert str(caught.value).startswith(f"{path}: document 1: ")


def test_a_document_that_is_not_a_mapping_is_named_by_index(tmp_path: Path) -> None:
    path = write(tmp_path / "x.yaml", WFT + "---\n- just\n- a list\n")
    with pytest.raises(DocumentError) as caught:
        load_documents([path])
    assert str(caught.value) == f"{path}: document 2: expected a mapping, got a list"


def test_duplicate_template_names_are_errors(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", WFT)
    write(tmp_path / "b.yaml", WFT)
    with pytest.raises(
        DocumentError, match=r"duplicate WorkflowTemplate `lib` \(first in .*a\.yaml\)"
    ):
        load_documents([], template_paths=[tmp_path])
    # The same name in the other scope is a different template.
    write(tmp_path / "b.yaml", CWFT)
    docs = load_documents([], template_paths=[tmp_path])
    assert docs.templates.names(cluster_scope=True) == ["lib"]


def test_template_paths_are_searched_recursively_and_must_not_hold_workflows(
    tmp_path: Path,
) -> None:
    write(tmp_path / "t" / "deep" / "lib.yml", WFT)
    (tmp_path / "t" / "cm.json").write_text(
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m"}, "data": {"k": "v"}}'
    )
    write(tmp_path / "t" / "notes.txt", "not yaml: [")
    docs = load_documents([], template_paths=[tmp_path / "t"])
    assert docs.templates.names(cluster_scope=False) == ["lib"]
    assert docs.config_maps == {"m": {"k": "v"}}
    wf = write(
        tmp_path / "t" / "wf.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: w}\n",
    )
    with pytest.raises(DocumentError, match="a Workflow in a --templates path") as caught:
        load_documents([], template_paths=[tmp_path / "t"])
    assert caught.value.file == str(wf)


def test_config_map_values_must_be_strings(tmp_path: Path) -> None:
    path = write(
        tmp_path / "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\ndata: {n: 5}\n"
    )
    with pytest.raises(DocumentError, match=r"document 1: data\.n: ConfigMap `m`: data values"):
        load_documents([path])


def store_with(*texts: str, tmp_path: Path) -> TemplateStore:
    for i, text in enumerate(texts):
        write(tmp_path / f"t{i}.yaml", text)
    return load_documents([], template_paths=[tmp_path]).templates


def test_template_ref_resolves_by_scope_and_keeps_the_owner(tmp_path: Path) -> None:
    store = store_with(WFT, CWFT, tmp_path=tmp_path)
    template, owner = store.resolve_template_ref({"name": "lib", "template": "main"})
    assert template["name"] == "main"
    assert (owner.kind, owner.name, owner.cluster_scope) == ("WorkflowTemplate", "lib", False)
    # A step inside it names a template of the same WorkflowTemplate.
    inner = template["steps"][0][0]["template"]
    assert owner.template(inner)["container"]["command"] == ["echo", "template"]
    template, owner = store.resolve_template_ref(
        {"name": "lib", "template": "cluster-only", "clusterScope": True}
    )
    assert owner.cluster_scope and template["container"]["image"] == "alpine"
    assert store.get("lib", cluster_scope=True)["kind"] == "ClusterWorkflowTemplate"


def test_missing_references_name_what_is_available(tmp_path: Path) -> None:
    store = store_with(WFT, CWFT, tmp_path=tmp_path)
    with pytest.raises(TemplateReferenceError) as caught:
        store.resolve_template_ref({"name": "lib", "template": "nope"})
    assert str(caught.value).endswith(
        "template `nope` not found in WorkflowTemplate `lib` (it has `echo`, `main`)"
    )
    with pytest.raises(
        TemplateReferenceError, match=r"WorkflowTemplate `other` not found \(have `lib`\)"
    ):
        store.get("other", cluster_scope=False)
    with pytest.raises(TemplateReferenceError, match="cluster-only` not found"):
        store.resolve_template_ref({"name": "lib", "template": "cluster-only"})
    only_cluster = store_with(CWFT, tmp_path=tmp_path / "c")
    with pytest.raises(TemplateReferenceError, match="clusterScope: true"):
        only_cluster.get("lib", cluster_scope=False)
    with pytest.raises(TemplateReferenceError, match=r"templateRef\.template is required"):
        store.resolve_template_ref({"name": "lib"})
    assert isinstance(caught.value, DocumentError)


def test_workflow_owner_holds_the_workflows_templates() -> None:
    wf = {"metadata": {"name": "w"}, "spec": {"templates": [{"name": "a", "suspend": {}}]}}
    owner = workflow_owner(wf)
    assert (owner.kind, owner.name, list(owner.templates)) == ("Workflow", "w", ["a"])


def test_workflow_template_ref_merge_overlays_the_workflow(tmp_path: Path) -> None:
    store = store_with(WFT, tmp_path=tmp_path)
    workflow = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "w-"},
        "spec": {
            "workflowTemplateRef": {"name": "lib"},
            "arguments": {
                "parameters": [
                    {"name": "who", "value": "workflow"},
                    {"name": "x"},
                    {"name": "free", "value": "mine"},
                ],
                "artifacts": [
                    {"name": "data", "s3": {"key": "new"}},
                    {"name": "page", "http": {"url": "http://127.0.0.1:1/p"}},
                ],
            },
            "podGC": {"strategy": "OnWorkflowSuccess"},
            "templates": [{"name": "echo", "script": {"image": "python", "source": "print(1)"}}],
        },
    }
    merged = merge_workflow_template(workflow, store)
    spec = merged["spec"]
    assert spec["workflowTemplateRef"] == {"name": "lib"}
    assert spec["entrypoint"] == "main"
    # Parameters by name: one the workflow gives a value is the workflow's, whole.
    assert spec["arguments"]["parameters"] == [
        {"name": "who", "value": "workflow"},
        {"name": "greeting", "value": "hello"},
        {"name": "free", "value": "mine"},
        {"name": "x"},
    ]
    # Artifacts: the workflow's; the template's location fields stay for the same storage.
    assert spec["arguments"]["artifacts"] == [
        {"name": "data", "s3": {"bucket": "lib-bucket", "key": "new"}},
        {"name": "page", "http": {"url": "http://127.0.0.1:1/p"}},
    ]
    assert spec["podGC"] == {"strategy": "OnWorkflowSuccess", "deleteDelayDuration": "30s"}
    # Templates: the workflow's replaces the template's of the same name, whole.
    assert [t["name"] for t in spec["templates"]] == ["main", "echo"]
    assert spec["templates"][1] == workflow["spec"]["templates"][0]
    assert "suspend" not in spec  # never inherited
    assert merged["metadata"] == {"generateName": "w-"}
    assert "entrypoint" not in workflow["spec"]  # the input is left alone
    with pytest.raises(TemplateReferenceError, match="ClusterWorkflowTemplate `lib` not found"):
        merge_workflow_template(
            {"spec": {"workflowTemplateRef": {"name": "lib", "clusterScope": True}}}, store
        )
    plain = {"spec": {"entrypoint": "a"}}
    assert merge_workflow_template(plain, store) == plain


def test_workflow_name_from_name_or_generate_name() -> None:
    assert workflow_name({"metadata": {"name": "fixed", "generateName": "g-"}}) == "fixed"
    names = {workflow_name({"metadata": {"generateName": "hello-"}}) for _ in range(20)}
    assert all(re.fullmatch(r"hello-[a-z0-9]{5}", name) for name in names)
    assert len(names) > 1
    with pytest.raises(DocumentError, match=r"metadata\.name or metadata\.generateName"):
        workflow_name({"metadata": {}})
