"""gunicorn's workers freeze what they keep for life (gunicorn.conf.py's hooks and dcp/heap.py)."""

import gc
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest

HOOKS = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))


@pytest.fixture
def thawed():
    """Start and end each test with nothing frozen, as the test process itself keeps it."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_worker_freezes_what_loading_left(thawed):
    """After post_worker_init everything alive is frozen: the collector's passes no longer walk it."""
    kept = [object() for _ in range(1000)]
    assert gc.get_freeze_count() == 0
    HOOKS["post_worker_init"](SimpleNamespace(nr=0))
    assert gc.get_freeze_count() >= len(kept)
    assert not any(item is kept[0] for item in gc.get_objects()), "a frozen object is still walked"


def test_a_worker_freezes_again_after_its_first_requests_only(thawed):
    """The 1st, 10th, 100th and 1000th requests settle the heap; others cost nothing."""
    settled_after = []
    for number in range(1, 1201):
        gc.unfreeze()
        HOOKS["post_request"](SimpleNamespace(nr=number), None, {}, None)
        if gc.get_freeze_count():
            settled_after.append(number)
    assert settled_after == [1, 10, 100, 1000]


def test_garbage_is_collected_not_frozen(thawed):
    """What is already unreachable (a cycle) is collected before the freeze, not kept for the worker's life."""

    class Node:
        pass

    first, second = Node(), Node()
    first.other, second.other = second, first
    marker = id(first)
    del first, second
    HOOKS["post_worker_init"](SimpleNamespace(nr=0))
    gc.unfreeze()
    assert not any(id(item) == marker and type(item).__name__ == "Node" for item in gc.get_objects())
