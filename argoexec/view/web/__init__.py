"""``argoexec ui``: the web view (Flask application, pages, static files)."""
