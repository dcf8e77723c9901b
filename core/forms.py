"""The one forms layer of the pages: every action a page posts is read through an `ActionForm`.

Why Django forms and not `request.POST.get(…)[:500]`: one place for validation, length limits and NUL
rejection, refusing (not cutting) what is too long, with the same words as the API (core.validation). A
form that does not validate changes nothing: the view shows `form.error_text()` as a message and goes
back to the page, as it does for a service's refusal.

    form = bind(request, ResolveForm)
    if form is None:
        return redirect(...)          # the message is already on the page
    attempt(request, services.call_resolve, call=call, by=request.user, **form.cleaned_data)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from django import forms
from django.contrib import messages
from django.http import HttpRequest
from django.utils.translation import gettext

from core import validation as v
from core.formerrors import tags_for

F = TypeVar("F", bound="ActionForm")

_MESSAGES = {
    "required": v.REQUIRED,
    "max_length": v.TOO_LONG,
    "min_length": v.TOO_SHORT,
    "null_characters_not_allowed": v.NUL,
    "invalid": v.NOT_A_NUMBER,
    "min_value": v.TOO_SMALL,
    "max_value": v.TOO_LARGE,
    "invalid_choice": v.BAD_CHOICE,
}


def _messages(field: forms.Field, **extra: Any) -> dict[str, Any]:
    """The field's error messages in the API's words (validators' codes included: Django puts a field's
    message for a code in place of the validator's own)."""
    return {**_MESSAGES, **extra}


class Text(forms.CharField):
    """A text: stripped, NUL refused, over-long refused (never cut), in the API's words; invisible control
    characters removed and line ends made LF (core.validation's rule). `line=True`: a title or a name,
    every run of white space one space."""

    def __init__(self, *, max_length: int, required: bool = False, line: bool = False, **kw: Any) -> None:
        super().__init__(max_length=max_length, required=required, **kw)
        self.line = line
        self.error_messages.update(_messages(self))

    def to_python(self, value: Any) -> str | None:
        text = super().to_python(value)
        if not text or v.has_nul(text):
            return text  # the NUL is refused by the field's validator, with its message
        return v.one_line(text) if self.line else v.clean_text(text)


class Integer(forms.IntegerField):
    def __init__(self, *, required: bool = False, **kw: Any) -> None:
        super().__init__(required=required, **kw)
        self.error_messages.update(_messages(self))


class Whole(Text):
    """A whole number as typed or picked ("-3" too, at most 9 digits): the number, or None when it is not
    one (the view or the service says what is missing or out of range, in its own words). A NUL byte and
    an over-long value are refused like in any text field."""

    def __init__(self, *, max_length: int = 10, **kw: Any) -> None:
        super().__init__(max_length=max_length, **kw)

    def clean(self, value: Any) -> int | None:
        from core.pages import to_int

        return to_int(super().clean(value))


class Wholes(forms.Field):
    """Ticked boxes that carry ids (the households of a roll, of a meeting): the whole numbers, in order, at
    most `max_count`; anything else is refused with the API's words, never dropped."""

    widget = forms.MultipleHiddenInput

    def __init__(self, *, max_count: int = 5000, required: bool = False, **kw: Any) -> None:
        super().__init__(required=required, **kw)
        self.max_count = max_count
        self.error_messages.update(_messages(self))

    def clean(self, value: Any) -> list[int]:
        from core.pages import to_int

        values = list(value or [])
        if any(v.has_nul(x) for x in values):
            raise forms.ValidationError(v.NUL, code="null_characters_not_allowed")
        if len(values) > self.max_count:
            raise forms.ValidationError(v.TOO_MANY % {"limit_value": self.max_count}, code="max_length")
        out = [to_int(x) for x in values]
        if any(x is None or x < 1 for x in out):
            raise forms.ValidationError(v.NOT_A_NUMBER, code="invalid")
        if self.required and not out:
            raise forms.ValidationError(v.REQUIRED, code="required")
        return [x for x in out if x is not None]


class Choice(forms.ChoiceField):
    def __init__(self, *, choices: Any, required: bool = False, **kw: Any) -> None:
        super().__init__(choices=choices, required=required, **kw)
        self.error_messages.update(_messages(self))


class MultipleChoice(forms.MultipleChoiceField):
    def __init__(self, *, choices: Any, required: bool = False, **kw: Any) -> None:
        super().__init__(choices=choices, required=required, **kw)
        self.error_messages.update(_messages(self, invalid_choice=v.BAD_CHOICE))


class Picks(forms.MultipleChoiceField):
    """Ticked boxes: the offered values among those posted. One no longer offered since the page was
    drawn (a reason retired meanwhile) is dropped, not an error; a NUL byte is refused."""

    def __init__(self, *, choices: Any, **kw: Any) -> None:
        super().__init__(choices=choices, required=False, **kw)
        self.error_messages.update(_messages(self))

    def clean(self, value: Any) -> list[str]:
        values = self.to_python(value)
        if any(v.has_nul(x) for x in values):
            raise forms.ValidationError(v.NUL, code="null_characters_not_allowed")
        # Django keeps the choices as (value, label) pairs once set; django-stubs types the getter with
        # every form the setter accepts.
        pairs = cast("Iterable[tuple[Any, Any]]", self.choices)
        offered = {str(k) for k, _label in pairs}
        return [x for x in values if x in offered]


class Date(forms.DateField):
    def __init__(self, *, required: bool = False, **kw: Any) -> None:
        super().__init__(required=required, input_formats=["%Y-%m-%d"], **kw)
        self.error_messages.update(_messages(self, invalid=v.BAD_DATE))


class Key(forms.CharField):
    """An idempotency key a form carried (a retried post makes nothing twice): "" when it is not one of
    ours (the service makes a fresh one); a NUL byte is refused like anywhere else."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(required=False, **kw)
        self.error_messages.update(_messages(self))

    def clean(self, value: Any) -> str:
        from core.pages import form_key

        value = super().clean(value)
        return form_key(value)


class Flag(forms.BooleanField):
    def __init__(self, **kw: Any) -> None:
        super().__init__(required=False, **kw)


class ActionForm(forms.Form):
    """Every page action's form. Fields reject NUL and over-long values with the API's messages; a
    NUL byte in a field the form does not declare is refused too (it is in the request all the same)."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        pairs = self.data.lists() if hasattr(self.data, "lists") else ((k, [x]) for k, x in self.data.items())
        for name, values in pairs:
            if name not in self.fields and any(v.has_nul(x) for x in values):
                self.add_error(None, v.NUL)
                break
        return cleaned

    def error_text(self) -> str:
        """The errors as one line for a message: each field's label (or name) and what is wrong."""
        parts = []
        for name, errors in self.errors.items():
            field = self.fields.get(name)
            label = str(field.label) if field is not None and field.label else ""
            for e in errors:
                parts.append(f"{label}: {e}" if label else str(e))
        return gettext("; ").join(parts)


def bind(
    request: HttpRequest,
    form_class: type[F],
    *,
    data: Any = None,
    error_for: str | dict[str, str] | Callable[[F], str] = "",
    **kw: Any,
) -> F | None:
    """The form of a posted action, validated: the form, or None with its errors shown as a message
    (nothing is changed). `error_for`: the field the message is about (core.pages.attempt says how), or a
    function of the refused form that names it (from the fields that were valid: which goods, which row)."""
    form = form_class(request.POST if data is None else data, **kw)
    if form.is_valid():
        return form
    target = error_for(form) if callable(error_for) else error_for
    messages.error(request, form.error_text(), extra_tags=tags_for(form.errors, target))
    return None


class NextForm(ActionForm):
    """Where a form wants to go back to (its `next`), as core.pages.back reads it."""

    next = Text(max_length=300)
