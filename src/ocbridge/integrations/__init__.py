"""Features switched on per Store: one package each, same shape (STYLE.md)."""
