"""A model trained in one process is the one every running server uses, without a restart: the server
answers intake with v1, another process stores v2, and the server's next intake is guessed by v2."""

from __future__ import annotations

import json
import os
import time
import urllib.request

import pytest

from gongzhi.test import Processes, manage, manage_shell, process_env

# Two matters said a few ways; v2 learns a third. Enough for a model, small enough to train in a second.
STORE = """
import random
from triage import services as t
rng = random.Random({seed})
said = {{
    "010101": ["路灯不亮", "路灯坏了", "灯杆上的灯一直闪", "好几盏路灯都熄了"],
    "020101": ["垃圾没人清运", "垃圾桶满了发臭", "垃圾堆在路边", "垃圾池好多天没清"],
    "030201": ["高龄津贴没有发", "老人补贴怎么申请", "高龄补助停发了", "高龄津贴到哪里领"],
}}
codes = list(said)[: {labels}]
rows = [(rng.choice(["村口", "桥头", "三组"]) + rng.choice(said[c]), c, "") for c in codes for _ in range(25)]
print(t.classifier_store(trained=t.train(rows, holdout=0), orders=len(rows), by="test").pk)
"""
ORDERS = (
    "from workorders.models import WorkOrder; a = WorkOrder.objects.get(pk={first});"
    "b = WorkOrder.objects.get(pk={second}); print(a.model_version, b.model_version, b.suggested_category.code)"
)


def _submit(url: str, token: str, text: str) -> int:
    req = urllib.request.Request(  # noqa: S310 (http to the test's own server)
        f"{url}/api/v1/workorders",
        data=json.dumps({"kind": "complaint", "text": text, "channel": "mobile"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=20) as r:  # noqa: S310
        return int(json.loads(r.read())["order"]["id"])


# The server runs on its own SQLite database whatever DATABASE_URL says: the SQLite pass runs this.
@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="its own SQLite database: the SQLite pass runs it"
)
@pytest.mark.slow
def test_a_model_stored_by_another_process_guesses_the_servers_next_appeal(tmp_path):
    env = process_env(tmp_path, GONGZHI_MEMO_CHECK_SECONDS="0.2")
    manage(env, "migrate", "-v0")
    manage(env, "seed_demo", "--scale", "small", "--seed", "5", "--orders", "0", "--calls", "0", "--points", "0")
    token, v1 = manage_shell(
        env,
        "from accounts.models import User; from accounts.services import token_create;"
        "token = token_create(user=User.objects.get(username='resident'), name='reload')[1];"
        + STORE.format(seed=1, labels=2).replace("print(", "print(token, "),
    ).split()
    with Processes(env) as procs:
        url = procs.server()
        first = _submit(url, token, "村口路灯坏了，晚上黑漆漆的")
        v2 = manage_shell(env, STORE.format(seed=2, labels=3))  # another process, while the server runs
        time.sleep(0.5)  # the server looks at the model's generation at most every 0.2 s
        second = _submit(url, token, "高龄津贴这个月没有发")
    assert int(v2) > int(v1)
    seen = manage_shell(env, ORDERS.format(first=first, second=second))
    # The first appeal was guessed by v1, the second by v2, which alone knows 高龄津贴.
    assert seen == f"{v1} {v2} 030201"
