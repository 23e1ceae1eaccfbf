"""A worker killed mid-write, and its job handed out again (the OneBox tests' crash helpers)."""

from __future__ import annotations

import contextlib

import pytest

from ocbridge.core.choices import JobState
from ocbridge.core.jobs import run_until_idle
from ocbridge.core.models import Job


@contextlib.contextmanager
def killed_at(module, *point):
    """The worker is killed when `module`'s write reaches `point` (its crash_hook's arguments)."""
    def hook(*at):
        if at == point:
            raise SystemExit("worker killed")

    module.crash_hook = hook
    try:
        with pytest.raises(SystemExit):
            yield
    finally:
        module.crash_hook = None


def handed_out_again(kind) -> None:
    """The killed run's claim expires; the dispatcher hands its job out again and everything runs."""
    [job] = Job.objects.filter(kind=kind.kind, state=JobState.RUNNING)
    Job.objects.filter(pk=job.pk).update(state=JobState.QUEUED, claim_expires_at=None, next_run_at=job.created)
    run_until_idle()
