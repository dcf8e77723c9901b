"""The resident page's one post (show full numbers) is read through a form: a NUL byte or an over-long
value is refused with the form's message, reveals nothing and logs nothing."""

from __future__ import annotations

import pytest

from core.models import PersonalDataAccess
from gongzhi.test import assert_refuses_bad_input
from org import forms

pytestmark = pytest.mark.django_db


def test_the_reveal_form_refuses_nul_and_over_long_values(county, client_as):
    li = client_as(county.u_li)
    url = f"/org/residents/{county.zhang.pk}/"
    posts = assert_refuses_bad_input(li, url, {"reveal": "1"}, forms.RevealForm)
    assert posts == 2
    assert PersonalDataAccess.objects.count() == 0  # a refused post revealed nothing
    r = li.post(url, {"reveal": "1", "smuggled": "x\x00"})
    assert "13800001234" not in r.content.decode() and PersonalDataAccess.objects.count() == 0
