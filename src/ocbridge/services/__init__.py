"""Outside service clients: one module per service; they import only ocbridge.core."""
