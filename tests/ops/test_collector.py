"""The forecast job's collector pause: off inside, restored after, nested and threaded uses share it."""

from __future__ import annotations

import gc
import threading

import pytest

from candor.ops.collector import collector_paused


def test_collection_is_paused_inside_and_restored_after():
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() == frozen  # a heap frozen by a server stays frozen


def test_nested_and_concurrent_users_restore_only_when_the_last_leaves():
    inside, release = threading.Event(), threading.Event()

    def other_job():
        with collector_paused():
            inside.set()
            release.wait(10)

    worker = threading.Thread(target=other_job)
    worker.start()
    assert inside.wait(10)
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other job is still running
    release.set()
    worker.join(10)
    assert gc.isenabled()


def test_an_error_inside_still_restores_the_collector():
    with pytest.raises(RuntimeError):
        with collector_paused():
            raise RuntimeError("job failed")
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled():
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
