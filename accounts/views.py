from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts import mode, services
from accounts.forms import ModeForm, TokenActionForm, TokenCreateForm, TokenRevokeForm
from accounts.http import AuthedRequest
from accounts.models import ApiToken, User
from core import clock
from core.errors import ApiError
from core.forms import bind
from core.pages import back


@login_required
@require_http_methods(["GET", "POST"])
def tokens_page(request: AuthedRequest) -> HttpResponse:
    """Create and revoke API tokens for clients (a mini program, a call box, a script)."""
    new_token = None
    if request.method == "POST":
        which = bind(request, TokenActionForm)
        action = which.cleaned_data["action"] if which is not None else None
        if action == "create":
            form = bind(request, TokenCreateForm)
            if form is not None:
                try:
                    _token, new_token = services.token_create(user=request.user, name=form.cleaned_data["name"])
                except ApiError as exc:
                    messages.error(request, str(exc.message))
        elif action == "revoke":
            revoke = bind(request, TokenRevokeForm)
            if revoke is not None:
                token = ApiToken.objects.filter(user=request.user, pk=revoke.cleaned_data["id"]).first()
                if token is None:
                    messages.error(request, _("No such token."))
                else:
                    services.token_revoke(token=token)
                    messages.success(request, _("The token was revoked."))
                    return redirect("accounts:tokens")
        elif which is not None:
            messages.error(request, _("Unknown action."))
    tokens = ApiToken.objects.filter(user=request.user)
    response = render(request, "accounts/tokens.html", {"tokens": tokens, "new_token": new_token, "now": clock.now()})
    response["Cache-Control"] = "no-store"  # the page may carry a new secret
    return response


@require_http_methods(["POST"])
def mode_switch(request: HttpRequest) -> HttpResponse:
    """长辈版 ↔ 标准版 (accounts.mode): kept on the user when logged in, and in this browser's cookie either
    way; then back to the page the switch was on (a page of this site only, else the home page)."""
    form = bind(request, ModeForm)
    response = back(request, "/", "/")
    if form is None:
        return response
    elder = form.cleaned_data["mode"] == mode.ELDER
    user = request.user
    if user.is_authenticated and getattr(user, "elder_mode", None) is not elder:
        User.objects.filter(pk=user.pk).update(elder_mode=elder)
    mode.remember(response, elder, secure=settings.SESSION_COOKIE_SECURE)
    return response
