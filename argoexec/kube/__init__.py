"""Kubernetes access for the executor: a lean stdlib REST client (``client``), error mapping and
§10.1 classification (``errors``), the secret reader (``secrets``) and the WorkflowTaskResult
sink (``taskresults``). No ``kubernetes`` package: the wait container must stay small."""
