"""The development gateway shows each message on the console at the default log level (WARNING), so that
`make run` shows what would have been texted; where the log shows INFO it goes there instead, once."""

from __future__ import annotations

import logging

import pytest

from notify.gateways import LoggingGateway


@pytest.fixture
def default_level():
    """The log as settings.LOGGING leaves it without LOG_LEVEL: WARNING and above."""
    root, notify = logging.getLogger(), logging.getLogger("gongzhi.notify")
    saved = root.level, notify.level
    root.setLevel(logging.WARNING)
    notify.setLevel(logging.NOTSET)
    yield
    root.setLevel(saved[0])
    notify.setLevel(saved[1])


def test_at_the_default_level_each_message_is_shown_on_the_console(default_level, capsys, caplog):
    LoggingGateway().send(phone="13800001234", text="工单2026A：请报告进展")
    err = capsys.readouterr().err
    assert "138****1234" in err and "工单2026A：请报告进展" in err
    assert "13800001234" not in err
    assert err.count("\n") == 1


def test_where_the_log_shows_info_it_is_logged_not_printed_twice(default_level, capsys, caplog):
    with caplog.at_level(logging.INFO, logger="gongzhi.notify"):
        LoggingGateway().send(phone="13800001234", text="您好")
    assert "138****1234" in caplog.text and "13800001234" not in caplog.text
    assert capsys.readouterr().err == ""


def test_a_short_number_is_shown_as_it_is(default_level, capsys):
    LoggingGateway().send(phone="110", text="x")
    assert "110" in capsys.readouterr().err
