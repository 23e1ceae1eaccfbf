"""The web dashboard: pages a shop owner opens (TR/RU/EN)."""
