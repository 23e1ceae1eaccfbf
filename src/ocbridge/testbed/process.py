"""What every throwaway server shares: a free port, a temp dir, one child process, waiting until it answers, stop."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """One server child process in its own session; subclasses say how to start it and how to ask if it answers."""

    program = "server"  # names the process in error messages and the temp dir
    unavailable: type[RuntimeError] = RuntimeError  # raised when it exits or does not answer in time
    log_name: str | None = None  # the server's own log under base; its tail goes into error messages
    answers = "accept connections"  # what it did not do in time
    poll_seconds = 0.05
    stop_signal = signal.SIGTERM
    stop_seconds, kill_seconds = 20.0, 10.0
    signal_group = False  # pause/resume/kill the whole process group, not only the child

    def __init__(self, base_dir: str | os.PathLike | None = None, *, port: int | None = None):
        self._own_dir = base_dir is None
        self.base = Path(base_dir or tempfile.mkdtemp(prefix=f"ocbridge-{self.program}-"))
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.paused = False

    def start(self, timeout: float = 30.0) -> Self:
        """Start the server and return once it answers; raises `unavailable` if it cannot."""
        raise NotImplementedError

    def _launch(self, args: list[str], *, output: str | None = None, **popen_kwargs) -> None:
        """Start the child; its stdout and stderr go to base/output (or nowhere)."""
        with open(self.base / output, "ab") if output else contextlib.nullcontext(subprocess.DEVNULL) as stdout:
            self.proc = subprocess.Popen(args, stdout=stdout, stderr=subprocess.STDOUT, start_new_session=True,
                                         **popen_kwargs)
        self.paused = False

    def _wait_until(self, ping: Callable[[], object], not_yet: type[Exception], timeout: float) -> None:
        """Call ping until it stops raising not_yet; raise `unavailable` if the child exits or time runs out."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise self.unavailable(f"{self.program} exited ({self.proc.returncode})" + self._log_tail(": "))
            try:
                ping()
                return
            except not_yet as exc:
                last = exc
                time.sleep(self.poll_seconds)
        raise self.unavailable(f"{self.program} did not {self.answers} in {timeout:.0f}s: {last}" + self._log_tail("; "))

    def _log_tail(self, separator: str = "") -> str:
        if self.log_name is None:
            return ""
        try:
            return separator + (self.base / self.log_name).read_text(errors="replace")[-1500:]
        except OSError:
            return separator

    def _signal(self, sig: int) -> None:
        if self.signal_group:
            os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)

    def stop(self, *, remove: bool = True) -> None:
        """Shut down (stop_signal, then SIGKILL) and, unless told otherwise, delete a temp dir we made."""
        if self.proc is not None:
            if self.paused:
                self.resume()
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout=self.stop_seconds)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(timeout=self.kill_seconds)
            self.proc = None
        if remove and self._own_dir:
            shutil.rmtree(self.base, ignore_errors=True)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections hang, like a host that stopped answering."""
        if self.proc is not None and not self.paused:
            self._signal(signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.proc is not None and self.paused:
            self._signal(signal.SIGCONT)
            self.paused = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
