"""The personal-data access log as CSV for an audit: the county's answerers only, bad dates refused."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command

from core.models import PersonalDataAccess
from workorders.tests.helpers import at

pytestmark = pytest.mark.django_db


def _log(world, clock):
    """Three reads; `at` is auto_now_add (the real clock), so each is put at its time afterwards."""
    c = world.c

    def read(when, **kw):
        a = PersonalDataAccess.objects.create(field=kw.pop("field", "phone"), **kw)
        PersonalDataAccess.objects.filter(pk=a.pk).update(at=at(when))

    read("2026-03-01 23:30", user=c.u_li, resident=c.zhang, channel="page", path="/org/x")  # UTC: the 1st 15:30
    read("2026-03-02 00:30", user=c.u_zhou, subject="workorder:ABC:caller", channel="api")  # UTC: the 1st 16:30
    read("2026-03-02 00:40", user=c.u_sun, resident=c.sun_resident, field="id_number", channel="api")
    return c


def _rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_the_county_exports_the_log_of_the_days_asked(world, client_as, clock):
    c = _log(world, clock)
    r = client_as(c.u_qian).get("/privacy/access-log.csv?from=2026-03-01&to=2026-03-01")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert "attachment" in r["Content-Disposition"]
    rows = _rows(r)
    assert rows[0][:3] == ["time", "viewer_username", "viewer"]
    assert [(x[1], x[4], x[6]) for x in rows[1:]] == [("li", "张阿姨", "phone")]
    rows = _rows(client_as(c.u_admin).get("/privacy/access-log.csv?from=2026-03-01&to=2026-03-02"))
    assert [(x[1], x[5]) for x in rows[1:]] == [("li", ""), ("zhou", "workorder:ABC:caller"), ("sun", "")]
    assert rows[1][0].startswith("2026-03-01T23:30:00+08:00")


def test_a_leader_of_one_town_sees_only_their_residents(world, client_as, clock):
    from accounts import services as accounts
    from accounts.models import Role

    c = _log(world, clock)
    south = accounts.user_create(username="nanzhen", password="x-Passw0rd!", display_name="南镇领导", is_staff=True)
    accounts.role_assign(user=south, role=Role.LEADER, node=c.t2)
    rows = _rows(client_as(south).get("/privacy/access-log.csv?from=2026-03-01&to=2026-03-02"))
    assert [x[1] for x in rows[1:]] == ["sun"]  # not 东镇's, not the county-wide callers'


@pytest.mark.parametrize(
    "query",
    ["", "?from=2026-03-01", "?from=2026-13-01&to=2026-03-02", "?from=yesterday&to=today",
     "?from=2026-03-05&to=2026-03-01", "?from=2026-03-01%00&to=2026-03-02"],
)  # fmt: skip
def test_bad_dates_are_400_with_a_message(world, client_as, clock, query):
    c = _log(world, clock)
    r = client_as(c.u_qian).get(f"/privacy/access-log.csv{query}")
    assert r.status_code == 400
    assert r.content  # a message: ours, or the middleware's for a NUL byte
    if "%00" not in query:
        assert "YYYY-MM-DD" in r.content.decode()


def test_who_does_not_answer_for_personal_data_gets_404(world, client_as, clock):
    c = _log(world, clock)
    for user in (c.u_li, c.u_zhou, c.u_wu, c.u_zhao, c.u_zhang):
        assert client_as(user).get("/privacy/access-log.csv?from=2026-03-01&to=2026-03-02").status_code == 404


def test_the_command_writes_the_whole_log(world, clock, tmp_path):
    _log(world, clock)
    out = tmp_path / "log.csv"
    call_command(
        "privacy_access_log", "--from", "2026-03-02", "--to", "2026-03-02", "--output", str(out), stderr=io.StringIO()
    )
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [x[1] for x in rows[1:]] == ["zhou", "sun"]
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("privacy_access_log", "--from", "2026-3-x", "--to", "2026-03-02")


def test_a_cell_that_a_spreadsheet_would_run_is_shown_as_text():
    """A name or reference someone typed as =HYPERLINK(…) (or +, -, @, a tab) is written with a leading quote."""
    from privacy.export import cell

    assert [cell(v) for v in ("=1+1", "+86", "-2", "@SUM(A1)", "\tx", "张阿姨", "")] == [
        "'=1+1", "'+86", "'-2", "'@SUM(A1)", "'\tx", "张阿姨", "",
    ]  # fmt: skip
