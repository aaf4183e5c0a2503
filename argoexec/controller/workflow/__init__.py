"""Workflow documents: loading, the WorkflowTemplate store, ``workflowTemplateRef`` merging and
``argoexec lint``'s checks. Everything works on plain dicts in wire form (camelCase)."""
