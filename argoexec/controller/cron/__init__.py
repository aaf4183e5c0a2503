"""CronWorkflows: when each is due (`schedule`), what one scheduling pass does to a CronWorkflow
and its Workflows (`plan`, pure: no I/O, no clock), and when a finished Workflow's
`ttlStrategy` removes it (`ttl`). The local and cluster loops carry the plans out."""
