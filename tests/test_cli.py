"""`ocbridge` lists our commands only, each with its help, and asks for `migrate` before using an empty hub."""

import os
import subprocess
import sys


def _cli(*args, data_dir) -> subprocess.CompletedProcess:
    env = dict(os.environ, OCBRIDGE_DATA_DIR=str(data_dir))
    return subprocess.run([sys.executable, "-m", "ocbridge", *args], env=env, capture_output=True, text=True,
                          timeout=60)


def test_help_lists_our_commands_only(tmp_path):
    from ocbridge.cli import COMMANDS

    out = _cli("--help", data_dir=tmp_path)
    assert out.returncode == 0
    listed = [line.split()[0] for line in out.stdout.splitlines() if line.startswith("  ")]
    assert listed == list(COMMANDS)
    assert "dumpdata" not in out.stdout and "sqlflush" not in out.stdout


def test_help_store_shows_its_subcommands_under_our_name(tmp_path):
    out = _cli("help", "store", data_dir=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: ocbridge store")
    for sub in ("add", "list", "check"):
        assert sub in out.stdout
    assert "--pythonpath" not in out.stdout and "--traceback" not in out.stdout


def test_a_typo_is_named_and_the_commands_listed(tmp_path):
    out = _cli("stor", data_dir=tmp_path)
    assert out.returncode == 2 and "unknown command 'stor'" in out.stderr and "store" in out.stderr


def test_before_migrate_it_says_to_run_migrate(tmp_path):
    out = _cli("store", "list", data_dir=tmp_path)
    assert out.returncode == 1 and "run `ocbridge migrate` first" in out.stderr
    assert "Traceback" not in out.stderr
    assert _cli("migrate", data_dir=tmp_path).returncode == 0
    out = _cli("store", "list", data_dir=tmp_path)
    assert out.returncode == 0, out.stderr
