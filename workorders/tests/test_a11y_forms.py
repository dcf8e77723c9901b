"""Issue 22 point 5, on the server: a refused form comes back with a summary that links to each field with a
message, and each such field says it is invalid and names its own message, drawn next to it
(core/formerrors.py, core/templatetags/fielderrors.py). And a choice never submits another choice: the
forms whose submit buttons are choices start with a hidden button that takes the Enter of a radio button or
a tick box, and what that button sends changes nothing."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from core.formerrors import FormErrors, for_field, tags_for
from workorders.models import WorkOrder
from workorders.tests.test_pages import NEW, html, key_of, order, resolved, state

pytestmark = pytest.mark.django_db


class _Tags(HTMLParser):
    """Every start tag's attributes in order, and the text of each element that has an id."""

    VOID = {"input", "br", "img", "meta", "link", "hr", "source", "col", "area", "base", "wbr", "track", "embed"}

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: dict[str, str] = {}
        self._open: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag not in self.VOID:
            self._open.append((tag, a.get("id")))
            if a.get("id"):
                self.text.setdefault(a["id"], "")

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            t, _id = self._open.pop()
            if t == tag:
                break

    def handle_data(self, data: str) -> None:
        for _t, ident in self._open:
            if ident:
                self.text[ident] += data


def parse(page: str) -> _Tags:
    p = _Tags()
    p.feed(page)
    return p


def by_id(p: _Tags, ident: str) -> dict[str, str]:
    found = [a for _t, a in p.tags if a.get("id") == ident]
    assert len(found) == 1, f"one element with id {ident!r}, found {len(found)}"
    return found[0]


def summary_links(page: str) -> dict[str, str]:
    """The error summary's links: target id → text."""
    m = re.search(r'<div class="msg error" role="alert" tabindex="-1" data-autofocus>(.*?)</div>', page, re.S)
    assert m, "the page has the error summary, focusable and announced"
    links = re.findall(r'<a href="#([^"]+)">(.*?)</a>', m.group(1))
    return {href: re.sub(r"<[^>]+>", "", text).strip() for href, text in links}


def assert_tied(page: str, field_id: str, *, also: str = "") -> str:
    """The field says it is invalid and names its message, which is on the page and is what the summary's
    link to the field says; the message's text."""
    p = parse(page)
    field = by_id(p, field_id)
    assert field.get("aria-invalid") == "true", field
    described = field.get("aria-describedby", "").split()
    message_id = f"{field_id}-error"
    assert message_id in described, field
    if also:
        assert also in described  # a hint the field had keeps being read
    message = p.text.get(message_id, "").strip()
    assert message, f"#{message_id} says what is wrong"
    links = summary_links(page)
    assert field_id in links, "the summary links to the field"
    assert message in links[field_id], "with what its message says"
    return message


def test_a_refused_appeal_ties_the_description_to_its_message(world, client_as):
    client = client_as(world.c.u_zhang, lang="en")
    url = f"{NEW}?kind=complaint&cat=010101"
    page = html(client.get(url))
    assert 'aria-invalid="true"' not in page and "data-autofocus" not in page  # nothing refused yet
    r = client.post(NEW, {"kind": "complaint", "cat": "010101", "text": "灯", "address": "村口", "key": key_of(page)})
    assert r.status_code == 422 and not WorkOrder.objects.exists()
    page = html(r)
    message = assert_tied(page, "text")
    assert message == "Please describe the problem."
    # Only the field with the message is marked; the one without is left alone.
    assert "aria-invalid" not in by_id(parse(page), "address")
    # What the resident typed is kept, and the photo's hint stays tied to the photo.
    assert "村口" in by_id(parse(page), "address").get("value", "")
    assert by_id(parse(page), "photo").get("aria-describedby") == "photo-hint"


def test_a_refused_rating_ties_the_level_to_its_message(world, client_as):
    o = resolved(world, order(world))
    client = client_as(world.c.u_zhang, lang="en")
    r = client.post(f"/workorders/{o.pk}/rate/", {"solved": "1"})
    assert r.status_code == 422 and state(o) == "resolved"
    page = html(r)
    assert assert_tied(page, "rate-satisfaction") == "Choose one of the five levels."
    p = parse(page)
    levels = [a for t, a in p.tags if t == "input" and a.get("name") == "satisfaction"]
    assert len(levels) == 5 and all(a.get("aria-describedby") == "rate-satisfaction-error" for a in levels)
    assert "aria-invalid" not in by_id(p, "rate-solved")  # answered: not marked
    assert by_id(p, "rate-solved").get("checked") is not None  # and kept


def test_public_tracking_ties_a_wrong_code_to_its_message(client):
    r = client.get("/track/", {"code": "ABC"}, HTTP_ACCEPT_LANGUAGE="en")
    page = html(r)
    assert "10 letters and digits" in assert_tied(page, "code", also="code-hint")
    r = client.get("/track/ABCDEFGHJK/", HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 404
    assert "No appeal has this tracking code." in assert_tied(html(r), "code", also="code-hint")
    # Before any code is given nothing is marked, and the hint is still read with the field.
    p = parse(html(client.get("/track/")))
    assert by_id(p, "code").get("aria-describedby") == "code-hint" and "aria-invalid" not in by_id(p, "code")


def test_a_refused_login_ties_both_fields_to_one_message(world, client):
    r = client.post("/accounts/login/", {"username": "zhang", "password": "wrong"}, HTTP_ACCEPT_LANGUAGE="en")
    page = html(r)
    assert assert_tied(page, "id_username") == "Wrong username or password. Please try again."
    password = by_id(parse(page), "id_password")
    assert password.get("aria-invalid") == "true" and password.get("aria-describedby") == "id_username-error"
    assert list(summary_links(page)) == ["id_username"]  # said once
    assert "autofocus" not in by_id(parse(page), "id_username")  # the summary takes the focus, not the field


def test_a_wrong_check_in_code_is_tied_to_the_code_field_after_the_redirect(world, client_as):
    from volunteers import services as volunteer_services

    volunteer_services.volunteer_join(resident=world.c.zhang, by=world.c.u_zhang)
    r = client_as(world.c.u_zhang, lang="en").post("/volunteers/checkin/", {"code": "WRONG123"}, follow=True)
    p = parse(html(r))
    field = by_id(p, "code")
    assert field.get("aria-invalid") == "true" and field.get("aria-describedby") == "code-error"
    assert p.text["code-error"].strip() == "The check-in code is not right."


def test_step_one_starts_with_a_hidden_button_that_sends_the_type_only(world, client_as):
    client = client_as(world.c.u_zhang)
    page = html(client.get(NEW))
    form = re.search(r'<form method="get"[^>]*class="submit-step">(.*?)</form>', page, re.S)
    assert form
    submits = re.findall(r"<button type=\"submit\"[^>]*>", form.group(1))
    first = submits[0]
    # The form's default button (the first in tree order), which an Enter on a type presses: hidden, no
    # category; the tiles come after it.
    assert " hidden" in first and "data-implicit" in first and 'name="cat"' not in first
    assert 'formaction="/workorders/new/#what"' in first
    assert all('name="cat"' in b for b in submits[1:]) and len(submits) > 2
    # What it sends (without scripts): the type alone, and the page comes back with that type and no tile chosen.
    again = html(client.get(NEW, {"kind": "report"}))
    assert re.search(r'value="report" checked', again) and 'id="what"' in again and 'name="text"' not in again
    assert not WorkOrder.objects.exists()


def test_the_console_refuses_a_bulk_dispatch_with_no_way_chosen(world, client_as):
    o = order(world)
    zhao = client_as(world.c.u_zhao, lang="en")
    page = html(zhao.get("/workorders/console/", {"queue": "all"}))
    bulk = re.search(r'<form method="post" action="/workorders/console/dispatch/".*?</form>', page, re.S)
    assert bulk
    first = re.search(r"<button type=\"submit\"[^>]*>", bulk.group(0))
    assert first and " hidden" in first.group(0) and "data-implicit" in first.group(0)
    r = zhao.post("/workorders/console/dispatch/", {"ids": [o.pk], "mode": ""}, follow=True)
    assert "Choose how to dispatch them" in html(r) and state(o) == "submitted"


def test_form_errors_place_messages_and_fall_back_to_lines():
    e = FormErrors(["Some fields are not valid."])
    e.add("text", "Please describe the problem.", label="Description")
    e.add("grid", "Please choose a grid.")
    assert bool(e) and bool(FormErrors()) is False
    e.only(["text"])  # the page shows no grid field: its message is a line again
    assert list(e) == ["Some fields are not valid.", "Please choose a grid."]
    assert [i for i, _t in e.links()] == ["text"]
    assert tags_for({"quantity": 1}, {"quantity": "q7"}) == for_field("q7") == "for-q7"
    assert tags_for({"other": 1}, {"quantity": "q7"}) == "" and tags_for({}, "code") == "for-code"
