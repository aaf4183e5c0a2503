"""argoexec: a Python re-implementation of Argo Workflows' executor and a thin local controller."""

__version__ = "0.1.0"
