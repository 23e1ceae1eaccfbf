"""Dashboard views, one module per page group (overview, stores, exchanges, jobs, integrations)."""
