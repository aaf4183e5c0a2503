"""What Argo's agent does for a task, as plain functions both the local runtime (in threads of
the controller) and `argoexec agent` (in the agent pod) call: `http` requests (`http`), and
the `data` template's source and transformation (`data`).

They live beside the controller rather than in `executor/` because they evaluate expr-lang
(`controller.expr`), which the executor layer may not import."""
