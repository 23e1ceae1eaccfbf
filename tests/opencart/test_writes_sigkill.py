"""A real SIGKILL mid-write (the in-process matrix in test_writes.py covers every pair of steps): a process is
killed between the status+stock statement and the history row on a MyISAM shop; the retry with the same key in
another process finishes the write once — one history row, the stock restored once."""

import signal
import subprocess
import textwrap

import pytest

from ocbridge.opencart import writes
from ocbridge.opencart.models import ShopWrite

from opencart.opencart_helpers import add_order, add_product, scalar
from opencart.writes_helpers import make_store
from testkit import PYTHON, worker_env

pytestmark = pytest.mark.django_db(transaction=True)

KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys
    import django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocbridge.settings")
    django.setup()
    from ocbridge.core.models import Store
    from ocbridge.opencart import writes

    def kill(step, when):
        if (step, when) == ("status_stock", "after"):
            os.kill(os.getpid(), signal.SIGKILL)  # no finally, no journal update: a power cut

    writes.crash_hook = kill
    writes.change_status(Store.objects.get(pk=int(sys.argv[1])), 1, expected=1, new=7, comment="iptal", key="w")
""")


def test_sigkilled_writer_is_finished_once_by_the_retry(opencart_db):
    h = opencart_db("3.0")
    add_product(h, 7, quantity=10)
    add_order(h, 1, status=1, product_id=7, qty=3)
    store = make_store(h)
    proc = subprocess.run([PYTHON, "-c", KILLED_WRITER, str(store.pk)], env=worker_env(), timeout=60,
                          capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert scalar(h, "SELECT order_status_id FROM oc_order WHERE order_id = 1") == 7  # the statement landed
    assert scalar(h, "SELECT COUNT(*) FROM oc_order_history") == 0  # the history did not
    assert "status_stock" not in ShopWrite.objects.get(key="w").steps_done  # and the journal never heard of it
    r = writes.change_status(store, 1, expected=1, new=7, comment="iptal", key="w")
    assert r.written
    assert scalar(h, "SELECT COUNT(*) FROM oc_order_history") == 1
    assert scalar(h, "SELECT quantity FROM oc_product WHERE product_id = 7") == 13
