"""长辈版 (accounts.mode): the switch, where it is remembered, who starts in it, who may turn it on for whom, and
what changes on the page (the calm header, the home page's four big actions). Sizes are measured in a
browser by tests/e2e/test_elder.py."""

from __future__ import annotations

import re

import pytest

from accounts.mode import COOKIE
from accounts.models import User

pytestmark = pytest.mark.django_db

ELDER_HTML = '<html lang="zh-hans" class="elder">'


def _actions(html: str) -> list[str]:
    block = re.search(r'<nav class="elder-actions".*?</nav>', html, re.S)
    return re.findall(r'data-action="(\w+)"', block.group(0)) if block else []


def _mode(user: User) -> bool | None:
    return User.objects.get(pk=user.pk).elder_mode


def test_a_resident_switches_to_the_elderly_mode_and_it_is_kept_on_the_user_and_in_a_cookie(county, client_as):
    client = client_as(county.u_zhang)
    home = client.get("/").content.decode()
    assert ELDER_HTML not in home and 'data-mode="elder"' in home  # the switch on the home page (and in the menu)
    assert home.count('data-mode="elder"') == 2
    response = client.post("/accounts/mode/", {"mode": "elder", "next": "/workorders/mine/"})
    assert response.status_code == 302 and response["Location"] == "/workorders/mine/"
    assert _mode(county.u_zhang) is True
    assert response.cookies[COOKIE].value == "elder" and response.cookies[COOKIE]["httponly"]
    page = client.get("/workorders/mine/").content.decode()
    assert ELDER_HTML in page and '<header class="topbar calm">' in page
    # The calm header: home, the name, 标准版, 退出 — no menu, no language buttons, no bell.
    header = re.search(r'<header class="topbar calm">.*?</header>', page, re.S).group(0)
    assert 'data-mode="standard"' in header and "/accounts/logout/" in header and "张阿姨" in header
    assert "data-lang" not in header and 'class="nav"' not in header and "/notify/" not in header
    # Another phone: logged in there, the choice follows her (the user, not the cookie).
    other = client_as(county.u_zhang)
    assert ELDER_HTML in other.get("/").content.decode()
    client.post("/accounts/mode/", {"mode": "standard", "next": "/"})
    assert _mode(county.u_zhang) is False
    assert ELDER_HTML not in other.get("/").content.decode()


def test_a_visitor_who_is_not_logged_in_keeps_the_mode_in_a_cookie(county, client_as):
    client = client_as(None)
    assert 'data-mode="elder"' in client.get("/track/").content.decode()
    response = client.post("/accounts/mode/", {"mode": "elder", "next": "/track/"})
    assert response.status_code == 302 and response["Location"] == "/track/"
    page = client.get("/track/").content.decode()
    assert ELDER_HTML in page and "/accounts/login/" in re.search(r"<header.*?</header>", page, re.S).group(0)
    # Logging in: a user who never chose takes the browser's mode; their own choice wins over it.
    client.force_login(county.u_liu)
    assert ELDER_HTML in client.get("/").content.decode()
    User.objects.filter(pk=county.u_liu.pk).update(elder_mode=False)
    assert ELDER_HTML not in client.get("/").content.decode()


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({"mode": "big", "next": "/"}, "not a mode"),
        ({"next": "/"}, "no mode"),
        ({"mode": "elder\x00", "next": "/"}, "a NUL byte"),
    ],
)
def test_a_bad_switch_changes_nothing_and_says_why(county, client_as, data, why):
    client = client_as(county.u_zhang)
    response = client.post("/accounts/mode/", data, follow=True)
    assert response.status_code == 200, why
    assert _mode(county.u_zhang) is None and COOKIE not in client.cookies, why
    assert 'class="msg error"' in response.content.decode(), why


def test_the_switch_goes_back_only_to_this_site_and_only_by_post(county, client_as):
    client = client_as(county.u_zhang)
    response = client.post("/accounts/mode/", {"mode": "elder", "next": "https://evil.example/"})
    assert response["Location"] == "/"
    assert client.post("/accounts/mode/", {"mode": "elder", "next": "//evil.example/x"})["Location"] == "/"
    assert client.post("/accounts/mode/", {"mode": "elder", "next": "/" + "a" * 2001})["Location"] == "/"
    assert client.get("/accounts/mode/?mode=standard").status_code == 405
    assert _mode(county.u_zhang) is True


def test_staff_pages_are_never_drawn_in_it_and_staff_see_no_switch(county, client_as):
    User.objects.filter(pk=county.u_zhao.pk).update(elder_mode=True)
    client = client_as(county.u_zhao)
    client.cookies[COOKIE] = "elder"
    page = client.get("/").content.decode()
    assert ELDER_HTML not in page and "data-mode=" not in page and 'class="nav"' in page


def test_a_resident_put_on_the_care_register_starts_in_it_unless_they_chose(county, client_as):
    from sos import services

    assert _mode(county.u_zhang) is None
    assert _actions(client_as(county.u_zhang).get("/").content.decode()) == []
    services.care_register(resident=county.zhang, by=county.u_li)
    assert _mode(county.u_zhang) is True
    # The home page: the one-key call first, then 提交诉求, 我的诉求, and a call to her grid worker (李网格's
    # work phone); nothing else in big buttons, and the standard page's sections are gone.
    html = client_as(county.u_zhang).get("/").content.decode()
    assert _actions(html) == ["sos", "submit", "mine", "call"]
    assert 'href="tel:13312345678"' in html and 'id="my-household"' not in html
    # 刘党员 chose 标准版 before he was registered: he stays in it.
    User.objects.filter(pk=county.u_liu.pk).update(elder_mode=False)
    services.care_register(resident=county.liu, by=county.u_li)
    assert _mode(county.u_liu) is False


def test_without_the_care_register_or_a_grid_phone_the_home_has_fewer_actions(county, client_as):
    User.objects.filter(pk=county.u_zhang.pk).update(elder_mode=True)
    User.objects.filter(pk=county.u_li.pk).update(work_phone="")
    assert _actions(client_as(county.u_zhang).get("/").content.decode()) == ["submit", "mine"]


def test_the_migration_puts_the_registered_in_it(county):
    """sos 0003: residents already on the register who never chose start in it; a choice made stays."""
    import importlib

    from django.apps import apps

    from sos.models import CareProfile

    migration = importlib.import_module("sos.migrations.0003_elder_mode_for_care_register")
    CareProfile.objects.create(resident=county.zhang, path=county.zhang.path)
    CareProfile.objects.create(resident=county.liu, path=county.liu.path)
    User.objects.filter(pk=county.u_liu.pk).update(elder_mode=False)
    migration.forward(apps, None)
    assert _mode(county.u_zhang) is True and _mode(county.u_liu) is False


def test_a_grid_worker_turns_it_on_for_a_resident_they_serve(county, client_as):
    url = f"/org/residents/{county.zhang.pk}/mode/"
    page = client_as(county.u_li).get(f"/org/residents/{county.zhang.pk}/").content.decode()
    assert f'action="{url}"' in page and 'value="elder"' in page
    response = client_as(county.u_li).post(url, {"mode": "elder"}, follow=True)
    assert response.status_code == 200 and _mode(county.u_zhang) is True
    assert "张阿姨" in response.content.decode() and 'value="standard"' in response.content.decode()
    assert ELDER_HTML in client_as(county.u_zhang).get("/").content.decode()
    client_as(county.u_li).post(url, {"mode": "standard"})
    assert _mode(county.u_zhang) is False


def test_no_one_else_may_turn_it_on_for_her(county, client_as):
    url = f"/org/residents/{county.zhang.pk}/mode/"
    assert client_as(county.u_sun).post(url, {"mode": "elder"}).status_code == 404  # another town's grid
    assert client_as(county.u_liu).post(url, {"mode": "elder"}).status_code in (403, 404)  # a neighbour
    assert client_as(county.u_zhao).post(url, {"mode": "elder"}).status_code == 403  # sees, keeps no register
    assert client_as(None).post(url, {"mode": "elder"}).status_code == 302  # to the login page
    assert client_as(county.u_li).post(url, {"mode": "huge"}).status_code == 302
    assert client_as(county.u_li).get(url).status_code == 405
    assert _mode(county.u_zhang) is None
    # A resident without a login: nothing to set.
    chen = f"/org/residents/{county.chen.pk}/mode/"
    assert client_as(county.u_li).post(chen, {"mode": "elder"}).status_code in (403, 404)
