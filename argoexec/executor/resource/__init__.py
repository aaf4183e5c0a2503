"""``argoexec resource``: act on a Kubernetes manifest and wait for its conditions (contract §6)."""
