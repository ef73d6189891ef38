"""Stage seconds are recorded only inside `recording()`, from any thread."""

from __future__ import annotations

import threading
import time

import pytest

from pipelines.core import stage_clock


def test_stages_add_up_per_name_and_only_while_recording() -> None:
    with stage_clock.stage("outside"):
        pass
    with stage_clock.recording() as seconds:
        for _ in range(2):
            with stage_clock.stage("sleep"):
                time.sleep(0.01)
        worker = threading.Thread(target=lambda: stage_clock.add("thread", 1.5))
        worker.start()
        worker.join()
        waited = list(stage_clock.waits("wait", iter([1, 2])))
    assert waited == [1, 2]
    assert set(seconds) == {"sleep", "thread", "wait"}
    assert 0.02 <= seconds["sleep"] < 1.0
    assert seconds["thread"] == 1.5
    with stage_clock.stage("after"):
        pass
    assert "after" not in seconds


def test_recording_twice_at_once_is_refused() -> None:
    with (
        stage_clock.recording(),
        pytest.raises(RuntimeError, match="already on"),
        stage_clock.recording(),
    ):
        pass
