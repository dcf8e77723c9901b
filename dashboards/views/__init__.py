"""The command centre's pages: the live board, a node's or a department's indicators over a range with
drill-down to the grids, rankings, the monthly assessment with its bulletin, appeals (甄别申诉), and
every table as an Excel download — one module per concern, the shared pieces in `common`.

Pages read through dashboards.selectors (scope: out of scope or missing is the 404 page) and change
nothing themselves: every posted action is read through a form (dashboards.forms) and every write is a
call to dashboards.services, whose refusal is shown as a message and changes nothing. Every chart has
its table beside it, so the pages work without JavaScript; charts (ECharts) and the map (Leaflet) come
from npm through node_modules, never a CDN.

This package re-exports what dashboards/urls.py and the tests import from `dashboards.views`.
"""

from dashboards.views.appeals import exemption_decide, exemptions_page
from dashboards.views.assessment import (
    assessment_bulletin,
    assessment_compute,
    assessment_index,
    assessment_page,
    assessment_publish,
    assessment_special,
    assessment_xlsx,
)
from dashboards.views.board import board_page
from dashboards.views.common import (
    DIMENSIONS,
    RANKING_COLUMNS,
    RANKING_COLUMNS_SHORT,
    RESULT_COLUMNS,
    UNIT_COLUMNS,
)
from dashboards.views.mediation import mediation_page, mediation_xlsx
from dashboards.views.nodes import department_page, node_page, node_xlsx
from dashboards.views.party import party_page, party_xlsx
from dashboards.views.ranking import ranking_page, ranking_xlsx

__all__ = [
    "DIMENSIONS",
    "RANKING_COLUMNS",
    "RANKING_COLUMNS_SHORT",
    "RESULT_COLUMNS",
    "UNIT_COLUMNS",
    "assessment_bulletin",
    "assessment_compute",
    "assessment_index",
    "assessment_page",
    "assessment_publish",
    "assessment_special",
    "assessment_xlsx",
    "board_page",
    "department_page",
    "exemption_decide",
    "exemptions_page",
    "mediation_page",
    "mediation_xlsx",
    "node_page",
    "node_xlsx",
    "party_page",
    "party_xlsx",
    "ranking_page",
    "ranking_xlsx",
]
