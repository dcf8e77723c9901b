"""长辈版, the elderly mode: which mode a page is drawn in, and how it is switched.

The mode is a way of drawing the same pages (large type, 60-pixel controls, a calm header, a home page of
four big actions), not a separate site. It is remembered on the user (User.elder_mode, so that it follows
them to another phone) and in a cookie (for the pages before logging in, and for a visitor who never logs
in: the public tracking page). A logged-in user's own choice wins over the cookie; a resident on the
one-key-call care register who never chose starts in it (sos.services.care_register sets it once).

Staff pages are not drawn in it: the mode is for the people the county serves (org.context asks
`applies(request)`, which knows who is staff).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

COOKIE = "gongzhi_mode"
ELDER = "elder"
STANDARD = "standard"
COOKIE_AGE = 400 * 24 * 3600  # the longest a browser keeps a cookie (Chromium caps at 400 days)


def chosen(request: HttpRequest) -> bool:
    """Whether this request's pages are drawn in 长辈版 by preference: the user's choice if they made one,
    else the browser's cookie."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        mine = getattr(user, "elder_mode", None)
        if mine is not None:
            return bool(mine)
    return request.COOKIES.get(COOKIE) == ELDER


def remember(response: HttpResponse, elder: bool, *, secure: bool) -> None:
    """Keep the mode in this browser (not secret, not read by scripts: HttpOnly, SameSite=Lax)."""
    response.set_cookie(COOKIE, ELDER if elder else STANDARD, max_age=COOKIE_AGE, httponly=True, samesite="Lax",
                        secure=secure)  # fmt: skip
