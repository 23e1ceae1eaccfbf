"""`make demo` checks its port and a running demo before touching anything (real processes, real sockets)."""

import json
import os
import socket
import subprocess
import sys


def _demo(data_dir, port: int) -> subprocess.CompletedProcess:
    env = dict(os.environ, OCBRIDGE_DATA_DIR=str(data_dir))
    return subprocess.run([sys.executable, "-m", "ocbridge", "demo", "--port", str(port)], env=env,
                          capture_output=True, text=True, timeout=60)


def test_a_taken_port_stops_the_demo_before_anything_changes(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _demo(tmp_path, port)
    assert result.returncode != 0
    assert f"Port {port} is already in use" in result.stderr and f"DEMO_PORT={port + 1}" in result.stderr
    assert not (tmp_path / "ocbridge.sqlite3").exists() and not (tmp_path / "demo-shop.sqlite3").exists()


def test_a_second_demo_on_the_same_data_says_where_the_first_one_is(tmp_path):
    (tmp_path / "demo.pid").write_text(json.dumps({"pid": os.getpid(), "port": 8123}))  # this process: alive
    result = _demo(tmp_path, 0)
    assert result.returncode != 0
    assert "A demo is already running" in result.stderr and "http://127.0.0.1:8123/" in result.stderr
    assert not (tmp_path / "ocbridge.sqlite3").exists()


def test_a_stale_pid_file_is_ignored(tmp_path):
    from ocbridge.demo import guard

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "demo.pid").write_text(json.dumps({"pid": dead.pid, "port": 8000}))
    assert guard.running_demo(tmp_path) is None and not (tmp_path / "demo.pid").exists()
