"""Throwaway servers for tests, benchmarks and demos: MariaDB, PostgreSQL and Redis, each private on a temp dir."""
