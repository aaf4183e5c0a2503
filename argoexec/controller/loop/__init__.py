"""The controller loop around the pure reconciler (`controller.reconcile`), and its two seams:
where Workflows live (`WorkflowStore`) and where pods run (`PodBackend`)."""
