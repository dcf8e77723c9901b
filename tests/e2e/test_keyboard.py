"""Issue 22 point 5: keyboard and screen reader. The demo resident, on a phone, files an appeal from the
home page to the receipt with the keyboard alone (no clicks, no focus() on elements, no address typed after
the home page), choosing a type and a category that are not the first ones, and the order made is exactly
that; Enter on a type stays on the page. A refused form puts the focus on its summary, whose link leads into
the field; and the focus ring can be seen on white and on the red header (3:1 at least)."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from tests.e2e.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ACTIVE = "(el => document.activeElement && document.activeElement.matches(el))"


def active(page, expr: str):
    """Evaluate a JS expression with `a` bound to document.activeElement."""
    return page.evaluate(f"(() => {{ const a = document.activeElement; return {expr}; }})()")


def tab_to(page, selector: str, *, key: str = "Tab", most: int = 60) -> None:
    """Press Tab (or Shift+Tab) until the focused element matches the selector."""
    for _ in range(most):
        page.keyboard.press(key)
        if page.evaluate(f"{ACTIVE}({selector!r})"):
            return
    raise AssertionError(f"{selector} not reached with {most} × {key}; focus is on {active(page, 'a.outerHTML')[:200]}")


def settled(page) -> None:
    page.wait_for_load_state()
    page.wait_for_function("document.readyState === 'complete'")


def press_to_navigate(page, key: str) -> None:
    """Press a key that leads to another page, and wait until that page is there."""
    with page.expect_navigation():
        page.keyboard.press(key)
    settled(page)


@pytest.fixture
def demo(live_server, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", scale="small", seed=1, orders=0, verbosity=0)
    return live_server


def test_a_resident_files_an_appeal_with_the_keyboard_alone(demo, browser):
    from workorders.models import WorkOrder

    ctx, page = login(browser, demo.url, "resident", phone=True)
    try:
        assert page.url == f"{demo.url}/"
        # The home page's way to submit an appeal, found by where it goes (the home page's layout may change).
        tab_to(page, 'a[href="/workorders/new/"]:not([accesskey])')
        press_to_navigate(page, "Enter")
        assert page.url == f"{demo.url}/workorders/new/"

        # The type: a radio group is one Tab stop; the arrows choose within it.
        tab_to(page, 'input[type=radio][name="kind"]')
        first_kind = active(page, "a.value")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        kind = active(page, "a.value")
        assert kind != first_kind and active(page, "a.checked")
        # Enter on the chosen type does not submit a tile (nor leave the page): it takes the focus to the tiles.
        url = page.url
        page.keyboard.press("Enter")
        page.wait_for_timeout(300)
        assert page.url == url
        assert active(page, "a.matches('.tiles .tile')")
        assert page.evaluate("document.querySelector('input[name=kind]:checked').value") == kind

        # A category that is not the first: the next tile.
        page.keyboard.press("Tab")
        top = active(page, "a.dataset.category")
        first_top = page.evaluate("document.querySelector('.tiles .tile').dataset.category")
        assert top and top != first_top
        press_to_navigate(page, "Enter")
        assert f"cat={top}" in page.url and f"kind={kind}" in page.url

        # Its second level, where it has one: again not the first tile, chosen with Space this time.
        if page.locator(".tiles .tile").count() > 1:
            tab_to(page, ".tiles .tile")
            page.keyboard.press("Tab")
            sub = active(page, "a.dataset.category")
            press_to_navigate(page, "Space")
            assert f"cat={sub}" in page.url
            category = sub
        else:
            category = top
        assert page.locator("form.submit-form").count() == 1

        tab_to(page, "#text")
        page.keyboard.type("楼道的灯坏了一个星期，晚上看不见台阶")
        tab_to(page, "form.submit-form button[type=submit].primary")
        press_to_navigate(page, "Enter")
        code = page.locator("[data-tracking-code]").inner_text().strip()
    finally:
        ctx.close()
    order = WorkOrder.objects.select_related("category").get(tracking_code=code)
    assert order.kind == kind and order.kind != first_kind
    assert order.category.code == category and order.category.code.startswith(top)
    assert order.text == "楼道的灯坏了一个星期，晚上看不见台阶"


def test_a_refused_appeal_puts_the_focus_on_its_summary_whose_link_leads_to_the_field(demo, browser):
    from workorders.models import WorkOrder

    ctx, page = login(browser, demo.url, "resident", phone=True)
    try:
        page.goto(f"{demo.url}/workorders/new/?kind=complaint&cat=0101")
        settled(page)
        tab_to(page, "#text")
        page.keyboard.type("灯")  # one character: refused by the server, not by the browser
        tab_to(page, "form.submit-form button[type=submit].primary")
        press_to_navigate(page, "Enter")
        page.wait_for_function("document.activeElement && document.activeElement.matches('[data-autofocus]')")
        assert active(page, "a.getAttribute('role')") == "alert"
        text = page.locator("#text")
        assert text.get_attribute("aria-invalid") == "true"
        assert page.locator("#" + text.get_attribute("aria-describedby").split()[0]).inner_text().strip()
        # From the summary, its link to the field takes the keyboard into the field, to put it right.
        page.keyboard.press("Tab")
        assert active(page, "a.getAttribute('href')") == "#text"
        page.keyboard.press("Enter")
        page.wait_for_timeout(200)
        assert active(page, "a.id") == "text"
        page.keyboard.press("End")
        page.keyboard.type("泡坏了，请来修")
        tab_to(page, "form.submit-form button[type=submit].primary")
        press_to_navigate(page, "Enter")
        code = page.locator("[data-tracking-code]").inner_text().strip()
    finally:
        ctx.close()
    assert WorkOrder.objects.get(tracking_code=code).text == "灯泡坏了，请来修"


def _luminance(rgb: tuple[int, int, int]) -> float:
    def lin(c: int) -> float:
        x = c / 255
        return x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)))
    return (lb + 0.05) / (la + 0.05)


def rgb(css: str) -> tuple[int, int, int]:
    m = re.search(r"rgba?\((\d+),\s*(\d+),\s*(\d+)", css)
    assert m, css
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


RING = """(() => {
  const a = document.activeElement, s = getComputedStyle(a);
  let bg = null;
  for (let el = a.parentElement; el; el = el.parentElement) {
    const c = getComputedStyle(el).backgroundColor;
    if (c && c !== 'transparent' && !/rgba\\(.*,\\s*0\\)$/.test(c)) { bg = c; break; }
  }
  return {outline: s.outlineColor, style: s.outlineStyle, width: parseFloat(s.outlineWidth),
          shadow: s.boxShadow, background: bg || 'rgb(255, 255, 255)'};
})()"""


def test_the_focus_ring_shows_on_white_and_on_the_red_header(demo, browser):
    ctx, page = login(browser, demo.url, "resident", phone=True)
    try:
        page.goto(f"{demo.url}/track/")
        settled(page)
        # On the red header: its first link after the skip link.
        tab_to(page, ".topbar a, .topbar summary")
        header = page.evaluate(RING)
        assert rgb(header["background"]) == (0xC8, 0x16, 0x1D)
        # On white: the tracking code's field, in its white card.
        tab_to(page, "#code")
        field = page.evaluate(RING)
        assert rgb(field["background"]) == (255, 255, 255)
    finally:
        ctx.close()
    for ring in (header, field):
        assert ring["style"] == "solid" and ring["width"] >= 2
        outline, halo = rgb(ring["outline"]), rgb(ring["shadow"])
        background = rgb(ring["background"])
        # The outer ring against what is around it, and the halo inside it: each 3:1 at least.
        assert contrast(outline, background) >= 3, ring
        assert contrast(halo, outline) >= 3, ring
    assert contrast(rgb(header["shadow"]), rgb(header["background"])) >= 3  # the white halo on the red


def test_without_scripts_enter_on_a_type_chooses_no_tile(demo, browser):
    """The hidden first button works without JavaScript too: Enter on a type sends the type alone, and the
    page comes back with it chosen, at the tiles, still on step 1."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", java_script_enabled=False)
    page = ctx.new_page()
    try:
        page.goto(f"{demo.url}/accounts/login/")
        page.fill("#id_username", "resident")
        page.fill("#id_password", "gongzhi-demo")
        with page.expect_navigation():
            page.press("#id_password", "Enter")
        settled(page)
        page.goto(f"{demo.url}/workorders/new/")
        tab_to(page, 'input[type=radio][name="kind"]')
        page.keyboard.press("ArrowDown")
        kind = active(page, "a.value")
        press_to_navigate(page, "Enter")
        assert page.url == f"{demo.url}/workorders/new/?kind={kind}#what"
        assert page.locator("input[name=kind]:checked").get_attribute("value") == kind
        assert page.locator(".tiles .tile").count() > 1 and page.locator("form.submit-form").count() == 0
        # The next Tab starts from the tiles' heading: the first tile.
        page.keyboard.press("Tab")
        assert active(page, "a.matches('.tiles .tile')")
    finally:
        ctx.close()


def test_enter_on_a_tick_box_in_the_console_dispatches_nothing(live_server, browser, settings, tmp_path):
    """The console's bulk form has two dispatch buttons; Enter on a ticked order presses neither."""
    from workorders.models import WorkOrder

    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", scale="small", seed=1, orders=12, verbosity=0)
    ctx, page = login(browser, live_server.url, "dispatcher")
    try:
        page.goto(f"{live_server.url}/workorders/console/?queue=all")
        settled(page)
        if page.locator("input[type=checkbox][name=ids]").count() == 0:
            pytest.skip("the demo left nothing to dispatch")
        before = dict(WorkOrder.objects.values_list("pk", "state"))
        url = page.url
        tab_to(page, "input[type=checkbox][name=ids]")
        page.keyboard.press("Space")
        assert active(page, "a.checked")
        page.keyboard.press("Enter")
        page.wait_for_timeout(800)
        assert page.url == url and active(page, "a.checked")
        assert dict(WorkOrder.objects.values_list("pk", "state")) == before
    finally:
        ctx.close()
