"""Throwaway servers for tests, benchmarks and demos (a private MariaDB on a temp dir)."""
