"""Every write to work orders, by concern (common, intake, handling, steps). Views, the API, the demo
loader and the deadline worker call these.

Each state change goes through `common._move` (core.fsm): the transition table in states.py says whether
it is allowed,
a compare-and-set UPDATE (… WHERE id = %s AND state = old) makes sure nobody changed the order since it
was read, and an Event row records it in the same transaction. Two handlers signing for one order at
the same moment: one UPDATE matches, the other gets 409.
"""

from workorders.services.common import (
    RESIDENT_CHANNELS,
    TRACKING_ALPHABET,
    TRACKING_LENGTH,
    handler_users,
    notify_dispatchers,
    notify_handlers,
    notify_owner,
    system_event,
)
from workorders.services.handling import (
    Unit,
    close_on_time,
    workorder_accept,
    workorder_answer,
    workorder_callback,
    workorder_cancel,
    workorder_close,
    workorder_dispatch,
    workorder_dispatch_bulk,
    workorder_mark_duplicate,
    workorder_rate,
    workorder_reassign,
    workorder_reopen,
    workorder_resolve,
    workorder_resume,
    workorder_return,
    workorder_rule_unreasonable,
    workorder_start,
    workorder_suspend,
    workorder_transfer,
)
from workorders.services.intake import Submitted, locate_grid, workorder_submit
from workorders.services.routing import workorder_reclassify
from workorders.services.steps import (
    extension_decide,
    extension_request,
    workorder_exclude,
    workorder_note,
    workorder_supervise,
)

__all__ = [
    "RESIDENT_CHANNELS",
    "TRACKING_ALPHABET",
    "TRACKING_LENGTH",
    "Submitted",
    "Unit",
    "close_on_time",
    "extension_decide",
    "extension_request",
    "handler_users",
    "locate_grid",
    "notify_dispatchers",
    "notify_handlers",
    "notify_owner",
    "system_event",
    "workorder_accept",
    "workorder_answer",
    "workorder_callback",
    "workorder_cancel",
    "workorder_close",
    "workorder_dispatch",
    "workorder_dispatch_bulk",
    "workorder_exclude",
    "workorder_mark_duplicate",
    "workorder_note",
    "workorder_rate",
    "workorder_reassign",
    "workorder_reclassify",
    "workorder_reopen",
    "workorder_resolve",
    "workorder_resume",
    "workorder_return",
    "workorder_rule_unreasonable",
    "workorder_start",
    "workorder_submit",
    "workorder_supervise",
    "workorder_suspend",
    "workorder_transfer",
]
