"""Pages of the appeal loop: submit (a resident, or staff for a resident), my appeals, the order page with
the form of every step this user may take, the dispatcher console, the handler queue, callbacks, and
public tracking.

Every write calls a service; every read goes through access/selectors. A service's error becomes a
message on the page (never a 500); an order outside the user's part of the county is a 404 page. Pages
answer htmx requests (request.htmx) with the fragment they swap, and work as plain forms without it.
"""

from workorders.views.intake import mine_page, resident_search, submit_page, submitted_page
from workorders.views.lists import callbacks_page, console_page, dispatch_bulk, queue_page
from workorders.views.order import order_page, order_photo, order_step, order_voice
from workorders.views.smart import hot_list_page, hot_page, triage_page
from workorders.views.track import track_order_page, track_page

__all__ = [
    "callbacks_page",
    "console_page",
    "dispatch_bulk",
    "hot_list_page",
    "hot_page",
    "mine_page",
    "order_page",
    "order_photo",
    "order_step",
    "order_voice",
    "queue_page",
    "resident_search",
    "submit_page",
    "submitted_page",
    "track_order_page",
    "track_page",
    "triage_page",
]
