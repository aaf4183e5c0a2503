"""Kubernetes access for the executor.

For now only a lean, stdlib-only secret reader (``argoexec.kube.secrets``) used by the
``argoexec artifact`` debugging commands; in a pod, secrets come from ``/argo/secret`` instead.
"""
