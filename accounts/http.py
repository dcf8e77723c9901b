"""The request that only a logged-in user reaches, for the type checker."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.models import User


class AuthedRequest(HttpRequest):
    """A request whose user is logged in: a page behind `login_required`, an API endpoint behind the
    token or session auth (api/api.py). A type only: Django builds a plain HttpRequest, and nothing checks
    again at run time what the decorator or the router's auth has checked."""

    user: User
