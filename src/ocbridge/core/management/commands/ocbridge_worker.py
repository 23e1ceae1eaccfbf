"""`ocbridge worker`: the huey consumer plus the dispatcher loop that hands due Jobs to it and runs the due
routine polls (core.polls) on poll threads of its own."""

import threading

from django.core.management.base import BaseCommand
from huey.contrib.djhuey import HUEY

from ocbridge.core.jobs import dispatcher_loop, worker_sender


class Command(BaseCommand):
    help = "Run the job worker (huey consumer + dispatcher)."

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=None, help="worker threads (default from settings)")
        parser.add_argument("--tick", type=float, default=1.0, help="dispatcher interval in seconds")
        parser.add_argument("--no-dispatcher", action="store_true", help="run only the consumer")
        parser.add_argument("--poll-threads", type=int, default=None,
                            help="threads running routine polls (default OCBRIDGE_POLL_THREADS or 4)")

    def handle(self, *args, workers=None, tick=1.0, no_dispatcher=False, poll_threads=None, **opts):
        from django.conf import settings

        import ocbridge.core.tasks  # noqa: F401  (registers the task with huey)
        from ocbridge.core.jobkinds import set_sender
        from ocbridge.core.tasks import run_job_task

        set_sender(worker_sender(run_job_task))  # the worker's own jobs go to huey at once (no dispatcher round)

        cfg = dict(settings.HUEY.get("consumer", {}))
        if workers:
            cfg["workers"] = workers
        cfg.setdefault("periodic", False)
        stop = threading.Event()
        if not no_dispatcher:
            import os

            from ocbridge.core.polls import Scheduler

            polls = Scheduler(threads=poll_threads or int(os.environ.get("OCBRIDGE_POLL_THREADS", "4")))
            threading.Thread(target=polls.loop, args=(stop,), daemon=True, name="poll-dispatcher").start()
            threading.Thread(target=dispatcher_loop, args=(stop, run_job_task, tick), daemon=True,
                             name="dispatcher").start()
        consumer = HUEY.create_consumer(**cfg)
        try:
            consumer.run()
        finally:
            stop.set()
