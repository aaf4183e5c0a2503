"""The thin controller: workflow engine, pod builder, runtimes, state store."""
