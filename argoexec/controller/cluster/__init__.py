"""The controller on a Kubernetes API server (``argoexec controller --in-cluster``), and the API
access the CLI's cluster commands share. Importing it imports ``kubernetes``: only the cluster
commands (``argoexec.commands.cluster_*``) do."""
