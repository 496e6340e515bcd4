"""The library's logger when the application set up no logging: the standard library's logger decides."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from unittest import mock

import pytest
import structlog

from negotiation.store.logs import get_logger


@pytest.fixture
def unconfigured() -> Iterator[None]:
    """structlog as an application that never configured it has it (the CLI's tests configure it)."""
    saved = structlog.get_config()
    was_configured = structlog.is_configured()
    structlog.reset_defaults()
    try:
        yield
    finally:
        if was_configured:
            structlog.configure(**saved)


@pytest.mark.usefixtures("unconfigured")
def test_a_message_reaches_the_standard_library_logger_rendered(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="negotiation.test_logs")
    get_logger("negotiation.test_logs", negotiation="n-1").warning("read_models.slow", seconds=3)
    (record,) = [r for r in caplog.records if r.name == "negotiation.test_logs"]
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("event='read_models.slow'")
    assert "negotiation='n-1'" in record.getMessage()
    assert "seconds=3" in record.getMessage()


@pytest.mark.usefixtures("unconfigured")
def test_a_message_below_the_level_is_dropped_before_it_is_rendered(caplog: pytest.LogCaptureFixture) -> None:
    """A catch-up logs a line per phase change: unseen ones must not cost a rendering each."""
    caplog.set_level(logging.WARNING, logger="negotiation.test_logs")
    renderer = structlog.processors.KeyValueRenderer
    with mock.patch.object(renderer, "__call__", autospec=True, side_effect=renderer.__call__) as rendered:
        get_logger("negotiation.test_logs").info("read_models.phase_changed", old="opened", new="bargaining")
        assert rendered.call_count == 0
        get_logger("negotiation.test_logs").error("read_models.event_skipped")
        assert rendered.call_count == 1
    assert [r.levelno for r in caplog.records if r.name == "negotiation.test_logs"] == [logging.ERROR]


@pytest.mark.usefixtures("unconfigured")
def test_a_message_below_a_filtering_loggers_level_builds_no_logger() -> None:
    """Configured (as the CLI does) at WARNING: an INFO line costs no bound logger; a WARNING one is logged."""
    warning = structlog.make_filtering_bound_logger(logging.WARNING)
    structlog.configure(processors=[structlog.testing.LogCapture()], wrapper_class=warning)
    with mock.patch.object(structlog, "get_logger", side_effect=structlog.get_logger) as built:
        get_logger("negotiation.test_logs", negotiation="n-1").info("read_models.phase_changed", new="bargaining")
        assert built.call_count == 0
        with structlog.testing.capture_logs() as logs:
            get_logger("negotiation.test_logs", negotiation="n-1").warning("read_models.slow", seconds=3)
    assert built.call_count == 1
    assert logs == [{"negotiation": "n-1", "seconds": 3, "event": "read_models.slow", "log_level": "warning"}]


@pytest.mark.usefixtures("unconfigured")
def test_a_wrapper_of_the_applications_own_decides_for_itself() -> None:
    """Only structlog's filtering loggers are asked ahead: any other wrapper gets every message."""
    structlog.configure(wrapper_class=structlog.stdlib.BoundLogger)
    with structlog.testing.capture_logs() as logs:
        get_logger("negotiation.test_logs").info("read_models.phase_changed", new="bargaining")
    assert logs == [{"new": "bargaining", "event": "read_models.phase_changed", "log_level": "info"}]
