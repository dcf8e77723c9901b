"""A refused form's fields, tied to their messages (core/formerrors.py says how the pieces fit).

    {% load fielderrors %}
    <label for="text">…</label>
    {% field_error errors "text" %}
    <textarea id="text" name="text"{% field_attrs errors "text" %}></textarea>

`errors` is the page's FormErrors; a plain list of lines (or nothing) gives nothing here, so a template can
use these before its view says which field a message is about. Pages whose view passes one message that
is about known fields build their FormErrors in the template: {% errors_for error "code" as errors %};
pages that redirect after a refusal read it from the messages: {% message_errors as errors %}.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.contrib.messages import get_messages
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from core.formerrors import FormErrors, from_messages, message_id

register = template.Library()


def _field(errors: Any, field_id: str) -> Any:
    fields = getattr(errors, "fields", None)
    return fields.get(field_id) if isinstance(fields, dict) else None


@register.simple_tag
def field_attrs(errors: Any, field_id: str, describedby: str = "") -> SafeString:
    """` aria-invalid="true" aria-describedby="<id>-error"` on a field with a message; a hint's id given as
    `describedby` is kept either way."""
    fe = _field(errors, field_id)
    ids = [message_id(fe.said_by)] if fe is not None else []
    if describedby:
        ids.append(describedby)
    attrs = [("aria-invalid", "true")] if fe is not None else []
    if ids:
        attrs.append(("aria-describedby", " ".join(ids)))
    return format_html_join("", ' {}="{}"', attrs)


@register.simple_tag
def field_error(errors: Any, field_id: str) -> SafeString:
    """The field's message, next to it, with the id its aria-describedby names (nothing when it has none)."""
    fe = _field(errors, field_id)
    if fe is None or fe.said_by != field_id:
        return mark_safe("")
    return format_html(
        '<p class="error field-error" id="{}">{}</p>',
        message_id(field_id),
        format_html_join(" ", "{}", ((m,) for m in fe.messages)),
    )


@register.simple_tag
def errors_for(message: Any, *field_ids: str) -> FormErrors:
    """One message about these fields (said next to the first), or nothing when there is no message."""
    errors = FormErrors()
    if message:
        for field_id in field_ids:
            errors.add(field_id, str(message), said_by=field_ids[0])
        if not field_ids:
            errors.line(str(message))
    return errors


@register.simple_tag(takes_context=True)
def message_errors(context: Any) -> FormErrors:
    """The error messages a redirect brought (the page's header lists them all; these tie them to fields)."""
    request = context.get("request")
    return from_messages(get_messages(request)) if request is not None else FormErrors()
