"""A fault test with a real worker process: `run_webhooks` sends three events to a receiver that fails each event's
first three attempts, and is killed with SIGKILL between attempts, then started again. Each event must still be
acknowledged, exactly once, after exactly four attempts — nothing lost, nothing sent twice, nothing sent while no
worker ran.

Runs on its own SQLite database in a temporary folder (the process cannot see the test database's transaction),
with a one-second backoff so that the retries take seconds (sos/tests/test_fault.py does the same)."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from gongzhi.test import Processes, manage, manage_shell, process_env
from notify.tests.test_webhooks_receiver import Receiver

EVENTS = 3
FAILS = 3

SETUP = """
from accounts.services import user_create
from notify import webhooks
from org import services as org
from org.models import Level
root = org.node_create(parent=None, level=Level.COUNTY, kind="county_city", name="测试市", code="429999")
admin = user_create(username="root", password="correct-horse-battery", display_name="管理员", is_superuser=True)
sub = webhooks.subscription_create(by=admin, name="12345热线", url="{url}", events=["workorder.resolved"])
for i in range({events}):
    webhooks.publish("workorder.resolved", {{"n": i, "标题": "路灯不亮"}}, path=root.path)
print(sub.secret)
"""

REPORT = (
    "import json; from notify.models import Delivery;"
    "print(json.dumps([[d.event_id, d.state, d.attempts, list(d.attempt_log.order_by('id')"
    ".values_list('status_code', flat=True))] for d in Delivery.objects.order_by('id')]))"
)


def _until(check, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.02)
    return False


# The worker processes run on their own SQLite database whatever DATABASE_URL says (process_env drops it): the
# PostgreSQL pass of `make test` would run this test again exactly as the SQLite pass did.
@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="its own SQLite database: the SQLite pass runs it"
)
@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals to kill the worker process")
def test_killing_the_webhook_worker_between_attempts_acknowledges_each_event_once(tmp_path):
    # Backoff 2 s, 4 s, 8 s after the first, second, third failure: the kill lands in a quiet stretch of seconds.
    env = process_env(
        tmp_path,
        GONGZHI_WEBHOOKS_BACKOFF_SECONDS="2",
        GONGZHI_WEBHOOKS_TIMEOUT="2",
        GONGZHI_WEBHOOKS_LEASE_SECONDS="5",
    )
    manage(env, "migrate", "-v0")
    with Receiver(fail_each=FAILS) as receiver:
        secret = manage_shell(env, SETUP.format(url=receiver.url, events=EVENTS))
        receiver.secret = secret
        with Processes(env) as procs:
            worker = procs.start("manage.py", "run_webhooks", "--idle-sleep", "0.05")
            # Each event's first attempt failed, then its second (two seconds later); its third is 4 s away.
            assert _until(lambda: len(receiver.requests) >= 2 * EVENTS, 60), len(receiver.requests)
            time.sleep(0.5)  # the second failures are written down
            worker.send_signal(signal.SIGKILL)  # no goodbye
            worker.wait(timeout=10)
            at_kill = len(receiver.requests)
            assert at_kill == 2 * EVENTS and not receiver.acks
            time.sleep(4.5)  # the third attempts fall due while no worker runs
            assert len(receiver.requests) == at_kill  # nothing is sent by a dead worker
            procs.start("manage.py", "run_webhooks", "--idle-sleep", "0.05")
            assert _until(lambda: len(receiver.acks) == EVENTS, 60), receiver.acks
            time.sleep(0.5)  # anything sent twice would arrive now
        report = json.loads(manage_shell(env, REPORT))
    assert len(report) == EVENTS
    assert sorted(receiver.acks.values()) == [1] * EVENTS  # each acknowledged exactly once
    assert set(receiver.acks) == {event_id for event_id, *_ in report}
    assert sorted(receiver.seen.values()) == [FAILS + 1] * EVENTS  # three failures, then the success
    assert all(r.signature_ok for r in receiver.requests)
    for _event_id, state, attempts, log in report:
        assert (state, attempts, log) == ("delivered", FAILS + 1, [500] * FAILS + [200])
