"""What people look at: a run's graph (``argoexec get -o dot|svg``) and the local web view
(``argoexec ui``). It reads Workflows and acts through the commands' own code paths; it sits
between ``commands`` and ``controller`` in the layers."""
