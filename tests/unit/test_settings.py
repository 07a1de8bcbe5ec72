"""Environment settings are parsed in one place: defaults when unset, a bad value is one `error:` line naming the
variable (exit 1, no traceback), whichever command reads it."""

from __future__ import annotations

import pytest

from reconciler.cli import main
from reconciler.core.errors import ReconcilerError
from reconciler.core.settings import Settings, parse_settings


def test_unset_or_empty_variables_take_the_defaults() -> None:
    assert parse_settings({}) == Settings()
    assert parse_settings({"CLUMIO_ORG_POLL_SECONDS": ""}).poll_seconds == 10.0


def test_poll_max_defaults_to_six_polls_and_never_below_the_poll() -> None:
    assert parse_settings({"CLUMIO_ORG_POLL_SECONDS": "2"}).poll_max_seconds == 12.0
    assert parse_settings({"CLUMIO_ORG_POLL_SECONDS": "5", "CLUMIO_ORG_POLL_MAX_SECONDS": "1"}).poll_max_seconds == 5


@pytest.mark.parametrize("name", ["CLUMIO_ORG_POLL_SECONDS", "CLUMIO_ORG_POLL_MAX_SECONDS",
                                  "CLUMIO_ORG_WAIT_SECONDS", "CLUMIO_ORG_HEARTBEAT_SECONDS"])
@pytest.mark.parametrize("value", ["soon", "0", "-3", "nan", "inf"])
def test_a_bad_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ReconcilerError, match=f"^{name}='{value}' is not a positive number of seconds$"):
        parse_settings({name: value})


def test_drift_with_a_bad_poll_setting_is_one_error_line(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CLUMIO_ORG_POLL_SECONDS", "ten")
    code = main(["drift", "--config", "examples/demo.yaml"])
    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert err[0] == "error: CLUMIO_ORG_POLL_SECONDS='ten' is not a positive number of seconds"
    assert err[1].startswith("hint: set CLUMIO_ORG_POLL_SECONDS to a number of seconds")
    assert not any("Traceback" in line for line in err)
