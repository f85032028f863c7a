"""Threaded processes (gunicorn's gthread workers, the Celery thread pools) hand the GIL over every 0.5 ms."""

import subprocess
import sys
from pathlib import Path

import pytest

from whatsapp_platform.threads import thread_switch_interval_apply

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _interval_restored():
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


def test_the_default_is_half_a_millisecond(monkeypatch):
    monkeypatch.delenv("THREAD_SWITCH_INTERVAL", raising=False)

    assert thread_switch_interval_apply() == 0.0005
    assert sys.getswitchinterval() == pytest.approx(0.0005)


def test_an_operator_can_choose_another_interval(monkeypatch):
    monkeypatch.setenv("THREAD_SWITCH_INTERVAL", "0.002")

    thread_switch_interval_apply()

    assert sys.getswitchinterval() == pytest.approx(0.002)


@pytest.mark.parametrize("value", ["fast", "0", "-1", "1"])
def test_a_value_that_is_not_a_sensible_interval_is_refused_with_what_to_write(monkeypatch, value):
    monkeypatch.setenv("THREAD_SWITCH_INTERVAL", value)

    with pytest.raises(ValueError, match="THREAD_SWITCH_INTERVAL must be"):
        thread_switch_interval_apply()


def test_the_web_application_applies_it_when_gunicorn_loads_it():
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, whatsapp_platform.wsgi; print(sys.getswitchinterval())"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "THREAD_SWITCH_INTERVAL": "0.001", "PLATFORM_ENV": "development"},
    )

    assert loaded.returncode == 0, loaded.stderr
    assert float(loaded.stdout.strip()) == pytest.approx(0.001)
