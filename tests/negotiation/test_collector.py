"""``negotiation.store.collector``: rarer full collections while bulk jobs run, the collector's own setting after."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from negotiation import Negotiations
from negotiation.store import collector
from negotiation.store.collector import FULL_COLLECTION_THRESHOLD, fewer_full_collections

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _defaults() -> Iterator[None]:
    """Each test starts from CPython's thresholds and leaves them as they were."""
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_the_block_raises_the_full_threshold_and_puts_it_back() -> None:
    with fewer_full_collections():
        assert gc.get_threshold() == (700, 10, FULL_COLLECTION_THRESHOLD)
    assert gc.get_threshold() == (700, 10, 10)


def test_an_error_inside_puts_it_back_too() -> None:
    with pytest.raises(RuntimeError), fewer_full_collections():
        raise RuntimeError("boom")
    assert gc.get_threshold() == (700, 10, 10)


def test_a_higher_setting_of_the_application_is_kept() -> None:
    gc.set_threshold(1000, 20, 500)
    with fewer_full_collections():
        assert gc.get_threshold() == (1000, 20, 500)
    assert gc.get_threshold() == (1000, 20, 500)


def test_overlapping_jobs_in_threads_restore_once_the_last_ends() -> None:
    """Two jobs that end in the other order than they began: raised while either runs, restored after both."""
    first_in, second_in, first_may_end, second_may_end = (threading.Event() for _ in range(4))
    seen: list[tuple[int, ...]] = []

    def first() -> None:
        with fewer_full_collections():
            first_in.set()
            first_may_end.wait(5)
        seen.append(gc.get_threshold())  # the second job still runs

    def second() -> None:
        first_in.wait(5)
        with fewer_full_collections():
            second_in.set()
            second_may_end.wait(5)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    second_in.wait(5)
    first_may_end.set()
    threads[0].join(5)
    assert seen == [(700, 10, FULL_COLLECTION_THRESHOLD)]
    second_may_end.set()
    threads[1].join(5)
    assert gc.get_threshold() == (700, 10, 10)
    assert collector._running == 0


def test_an_import_runs_with_rarer_full_collections(tmp_path: Path) -> None:
    """The facade's import is such a job: its progress, told while it checks, sees the raised threshold."""
    during: list[int] = []
    with Negotiations(f"sqlite:///{tmp_path / 'store.db'}") as app:
        report = app.import_files(
            [ROOT / "examples" / "wga_amptp_2023.jsonl"], progress=lambda *_: during.append(gc.get_threshold()[2])
        )
    assert report.ok
    assert during
    assert set(during) == {FULL_COLLECTION_THRESHOLD}
    assert gc.get_threshold() == (700, 10, 10)
