"""The embedded live demo (`make demo`): wiring of a demo shop, the sandbox provider and the hub."""
