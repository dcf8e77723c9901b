"""A form drawn again after it was refused: what its summary says and what belongs to each field.

The summary (templates/workorders/_errors.html) is where the focus goes when the page comes back
(static/js/gongzhi.js): it says what belongs to no field as text, and each field's message as a link to
that field. Each field with a message carries aria-invalid and an aria-describedby naming the message
drawn next to it, so that a screen reader reads the message with the field and a keyboard user who
follows the link lands in it ({% field_attrs %} and {% field_error %} in core/templatetags/fielderrors.py).

Fields are named by the id of their control on the page, not by the name the server knows them by: a
page that shows several forms (the order page) has several "note" fields, each with its own id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.messages import constants
from django.contrib.messages.storage.base import Message

# A page that redirects after a refusal (post/redirect/get) names the field of a message in its extra
# tags: messages.error(request, text, extra_tags=for_field("code")).
FOR_PREFIX = "for-"


def for_field(field_id: str) -> str:
    return FOR_PREFIX + field_id


def tags_for(names: Iterable[str], error_for: str | dict[str, str]) -> str:
    """The extra tags of a refusal's message on a page that redirects: the field it is about. `error_for`
    is the field's id, or the ids by the names the server knows (the first name refused that has one)."""
    if isinstance(error_for, str):
        return for_field(error_for) if error_for else ""
    field_id = next((error_for[n] for n in names if n in error_for), "")
    return for_field(field_id) if field_id else ""


def message_id(field_id: str) -> str:
    """The id of the element that says what is wrong with a field."""
    return f"{field_id}-error"


@dataclass
class FieldError:
    messages: list[str] = field(default_factory=list)
    label: str = ""  # the field's name in the summary, where the message alone would not say which field
    said_by: str = ""  # the field whose message element says it (fields refused together share one)


class FormErrors(list[str]):
    """The summary's lines that belong to no field (a list, as the pages had before), and `fields`: each
    field's messages by the id of its control. True when there is anything to say."""

    def __init__(self, lines: Iterable[str] = ()) -> None:
        super().__init__(lines)
        self.fields: dict[str, FieldError] = {}

    def __bool__(self) -> bool:
        return len(self) > 0 or bool(self.fields)

    def add(self, field_id: str, message: str, *, label: str = "", said_by: str = "") -> None:
        fe = self.fields.setdefault(field_id, FieldError(label=label, said_by=said_by or field_id))
        if message not in fe.messages:
            fe.messages.append(message)

    def line(self, text: str) -> None:
        if text not in self:
            self.append(text)

    def merge(self, other: Iterable[str]) -> None:
        for text in other:
            self.line(text)
        for field_id, fe in getattr(other, "fields", {}).items():
            for m in fe.messages:
                self.add(field_id, m, label=fe.label, said_by=fe.said_by)

    def only(self, present: Iterable[str]) -> FormErrors:
        """Messages for fields the page does not show go back to the summary's lines (no link to nowhere)."""
        keep = set(present)
        for field_id in [f for f in self.fields if f not in keep]:
            fe = self.fields.pop(field_id)
            for m in fe.messages:
                self.line(_labelled(m, fe.label))
        return self

    def links(self) -> list[tuple[str, str]]:
        """(field id, text) for the summary: one link for each message, to the first field it is about."""
        seen: set[tuple[str, str]] = set()
        out = []
        for field_id, fe in self.fields.items():
            for m in fe.messages:
                if (fe.said_by, m) in seen:
                    continue
                seen.add((fe.said_by, m))
                out.append((field_id, _labelled(m, fe.label)))
        return out


def _labelled(message: str, label: str) -> str:
    from django.utils.translation import gettext

    return gettext("%(field)s: %(message)s") % {"field": label, "message": message} if label else message


def from_messages(messages: Iterable[Message]) -> FormErrors:
    """The error messages a redirect carried: those tagged for a field (see for_field) as that field's."""
    errors = FormErrors()
    for m in messages:
        if m.level < constants.ERROR:
            continue
        tag = next((t for t in (m.extra_tags or "").split() if t.startswith(FOR_PREFIX)), "")
        if tag:
            errors.add(tag[len(FOR_PREFIX) :], str(m.message))
        else:
            errors.line(str(m.message))
    return errors
