"""Points pages: a resident's points, claims, the shops and their reservations; the staff's claims to
decide, awards and deductions by hand, the shop counter with its stock, the leaderboard with the
good-person nominations, and the report.

Pages change nothing themselves: every write is a call to points.services, every scoped read goes
through points.selectors (or org.access), every posted action is read through its form (points.forms).
A form's or a service's refusal is shown as a message and changes nothing; what is missing or outside
the user's part of the county is the 404 page, as are the staff pages for anyone who runs no points.
The buttons of a redemption, a claim and a nomination are the actions the selectors allow this user.
"""

from points.views.counter import counter_page, counter_redeem, goods_add, goods_sale, goods_stock, redemption_collect
from points.views.figures import nominate, nomination_decide, ranking_page, report_page
from points.views.manage import adjust, claim_decide, manage_page
from points.views.resident import claim_page, home, redemption_cancel, redemptions_page, reserve, shop_page

__all__ = [
    "adjust",
    "claim_decide",
    "claim_page",
    "counter_page",
    "counter_redeem",
    "goods_add",
    "goods_sale",
    "goods_stock",
    "home",
    "manage_page",
    "nominate",
    "nomination_decide",
    "ranking_page",
    "redemption_cancel",
    "redemption_collect",
    "redemptions_page",
    "report_page",
    "reserve",
    "shop_page",
]
