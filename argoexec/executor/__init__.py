"""Logic of the executor sub-commands (init, wait, resource); process wiring lives in commands/."""
