"""Core: models, secrets, clock, HTTP client, exchange log and the job runner shared by every feature."""
