"""A fault test with real processes: a server and `run_sos` over one database file; calls raised through
HTTP; the worker killed with SIGKILL in the middle of the escalations and started again. Every rung of
every call must still fire, none twice, and no call may be lost.

Runs on its own SQLite database in a temporary folder (the processes cannot see the test database's
transaction), with rungs one second apart so that the whole ladder takes a few seconds."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request

import pytest

from gongzhi.test import Processes, manage, manage_shell, process_env

CALLS = 8
ALERTS = "from sos.models import CallEvent; print(CallEvent.objects.filter(action='alert').count())"
DUE = "from sos.models import Call; print(Call.objects.filter(escalate_at__isnull=False).count())"


# The worker processes run on their own SQLite database whatever DATABASE_URL says (process_env drops it): the
# PostgreSQL pass of `make test` would run this test again exactly as the SQLite pass did.
@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="its own SQLite database: the SQLite pass runs it"
)
@pytest.mark.slow
def test_killing_the_escalation_worker_loses_nothing_and_fires_nothing_twice(tmp_path):
    env = process_env(
        tmp_path, GONGZHI_SOS_ACK_SECONDS="1", GONGZHI_SOS_VILLAGE_SECONDS="1", GONGZHI_MEMO_CHECK_SECONDS="0.2"
    )
    manage(env, "migrate", "-v0")
    manage(env, "seed_demo", "--scale", "small", "--seed", "3", "--orders", "0", "--calls", "0")
    token = manage_shell(
        env,
        "from accounts.models import User; from accounts.services import token_create; from sos import services;"
        "r = User.objects.get(username='resident').resident;"
        "services.care_register(resident=r, by=User.objects.get(username='grid'));"
        "print(token_create(user=r.user, name='fault')[1])",
    )
    with Processes(env) as procs:
        url = procs.server()
        worker = procs.start("manage.py", "run_sos", "--idle-sleep", "0.05")
        ids = []
        for i in range(CALLS):
            req = urllib.request.Request(
                f"{url}/api/v1/sos/calls",
                data=json.dumps({"kind": "emergency", "idempotency_key": f"fault-{i}"}).encode(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=10) as r:
                ids.append(json.loads(r.read())["call"]["id"])
            time.sleep(0.15)
        # The first rungs are firing (each call alerted its first responder when raised; more is the worker's
        # doing). Waited for, not slept on: on a loaded machine the worker may take seconds to start.
        deadline = time.monotonic() + 60
        while int(manage_shell(env, ALERTS)) <= CALLS:
            assert time.monotonic() < deadline, "the escalation worker fired nothing"
            time.sleep(0.2)
        worker.send_signal(signal.SIGKILL)  # no goodbye: whatever it was doing is cut off
        worker.wait(timeout=10)
        at_kill = int(manage_shell(env, ALERTS))
        time.sleep(2.5)  # deadlines pass while nobody watches them
        procs.start("manage.py", "run_sos", "--idle-sleep", "0.05")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and int(manage_shell(env, DUE)):
            time.sleep(0.5)
        report = json.loads(
            manage_shell(
                env,
                "import json; from sos.models import Call, CallEvent;"
                "print(json.dumps({c.pk: [c.stage, list(CallEvent.objects.filter(call=c, action='alert')"
                ".order_by('id').values_list('level', flat=True))] for c in Call.objects.all()}))",
            )
        )
    assert sorted(int(k) for k in report) == sorted(ids)  # no call lost, none made twice
    total = sum(len(levels) for _stage, levels in report.values())
    assert CALLS < at_kill < total, (at_kill, total)  # killed in the middle: rungs fired before and after
    for call_id, (stage, levels) in report.items():
        assert stage == "centre", (call_id, stage, levels)  # the whole ladder was climbed
        assert levels == list(range(len(levels))), (call_id, levels)  # each rung once, in order
        assert len(levels) >= 3, (call_id, levels)  # at least a responder, the village, the centre
