"""One-key call in real browsers against a real ASGI server process (the live stream needs ASGI; Django's
test server is WSGI): the resident presses the red key and confirms; the grid worker's open list shows
the call without reloading; they acknowledge it; the command-centre board, also open all along, shows
it acknowledged without reloading."""

from __future__ import annotations

import time

import pytest

from gongzhi.test import Processes, manage, manage_shell, process_env
from tests.e2e.conftest import login, shot

pytestmark = pytest.mark.browser


@pytest.fixture
def asgi_server(tmp_path, browser):  # the browser first: no server is started where the test will skip
    env = process_env(tmp_path)
    manage(env, "migrate", "-v0")
    manage(env, "collectstatic", "--noinput", "-v0")  # whitenoise serves them, as under `make run`
    manage(env, "seed_demo", "--scale", "small", "--seed", "1", "--orders", "0", "--calls", "0")
    manage_shell(
        env,
        "from accounts.models import User; from sos import services;"
        "services.care_register(resident=User.objects.get(username='resident').resident,"
        " by=User.objects.get(username='grid'), reasons=['elderly_alone'], needs='高血压，独居'); print('ok')",
    )
    with Processes(env) as procs:
        yield procs.server()


def test_a_call_reaches_the_responder_and_the_board_without_reloading(asgi_server, browser):
    url = asgi_server
    responder_ctx, responder = login(browser, url, "grid")
    responder.goto(f"{url}/sos/calls/")
    responder.wait_for_selector("text=没有待处理的呼叫")
    responder.evaluate("window.__stayed = true")  # gone if the page reloads
    board_ctx, board = login(browser, url, "dispatcher")
    board.goto(f"{url}/sos/board/")
    board.evaluate("window.__stayed = true")
    time.sleep(1)  # both streams are connected

    resident_ctx, resident = login(browser, url, "resident", phone=True)
    resident.goto(f"{url}/sos/")
    shot(resident, "sos-resident-keys")
    resident.click("a.sos-key.red")
    resident.click("button.sos-key.red")  # the second tap
    resident.wait_for_selector(".sos-status")
    assert "等待响应" in resident.inner_text(".sos-status")
    shot(resident, "sos-resident-called")

    # The responder's list shows the call by itself, within a few seconds.
    responder.wait_for_selector("#sos-live tr.state-raised >> text=陈秀芳", timeout=10_000)
    assert responder.evaluate("window.__stayed === true")
    shot(responder, "sos-responder-list")
    board.wait_for_selector("#sos-live tr.state-raised >> text=陈秀芳", timeout=10_000)
    assert board.evaluate("window.__stayed === true")

    responder.click("#sos-live tr.state-raised a")
    responder.click("button.primary")  # 我来响应
    responder.wait_for_selector(".sos-big.state-acknowledged")

    # The board, never reloaded, now shows it acknowledged by the grid worker.
    board.wait_for_selector("#sos-live tr.state-acknowledged >> text=陈秀芳", timeout=10_000)
    assert board.evaluate("window.__stayed === true")
    shot(board, "sos-board")
    for ctx in (responder_ctx, board_ctx, resident_ctx):
        ctx.close()
