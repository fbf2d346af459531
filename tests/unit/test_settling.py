from types import SimpleNamespace

import pytest

from harness.plugin import settling


def _request(config, nodeid, *, disruptive=False):
    marker = object() if disruptive else None
    return SimpleNamespace(
        config=config, node=SimpleNamespace(nodeid=nodeid, get_closest_marker=lambda name: marker)
    )


def _item(config, nodeid):
    return SimpleNamespace(config=config, nodeid=nodeid)


@pytest.fixture
def config():
    return SimpleNamespace(stash=pytest.Stash())


def test_the_next_test_may_run_while_a_tests_own_waits_finish(config):
    cluster, ran = SimpleNamespace(deleted=False), []
    settling.finish(_request(config, "t1"), cluster, [lambda: ran.append("t1")])
    settling.settle(_item(config, "t1"), keep_own=True)
    assert ran == []
    settling.finish(_request(config, "t2"), cluster, [lambda: ran.append("t2")])
    settling.settle(_item(config, "t2"), keep_own=True)  # t1's are due now; t2's wait for t3
    assert ran == ["t1"]
    settling.settle(_item(config, "t3"), keep_own=False)
    assert ran == ["t1", "t2"]
    assert config.stash[settling.QUEUE] == []


def test_a_failed_step_names_the_test_it_cleans_up_after_and_the_others_still_run(config):
    cluster, ran = SimpleNamespace(deleted=False), []

    def fails():
        raise AssertionError("mirror pod default/x-node still there")

    settling.finish(_request(config, "t1"), cluster, [fails, lambda: ran.append("t1 second")])
    with pytest.raises(AssertionError, match=r"^the clean-up of t1, run after it: mirror pod default/x-node"):
        settling.settle(_item(config, "t2"), keep_own=False)
    assert ran == ["t1 second"]


def test_the_end_of_the_run_flushes_everything(config):
    cluster, ran = SimpleNamespace(deleted=False), []
    settling.finish(_request(config, "t1"), cluster, [lambda: ran.append("t1")])
    settling.settle(_item(config, "t1"), keep_own=True)
    settling.flush(config)
    assert ran == ["t1"] and config.stash[settling.QUEUE] == []


def test_several_failures_are_one_group_and_a_tests_own_are_as_raised(config):
    cluster = SimpleNamespace(deleted=False)

    def fails():
        raise AssertionError("still there")

    settling.finish(_request(config, "t1"), cluster, [fails, fails])
    with pytest.raises(ExceptionGroup, match="clean-up: several steps failed") as group:
        settling.settle(_item(config, "t1"), keep_own=False)
    assert [str(e) for e in group.value.exceptions] == ["still there", "still there"]


def test_waits_for_a_deleted_cluster_are_dropped(config):
    cluster = SimpleNamespace(deleted=False)
    settling.finish(_request(config, "t1"), cluster, [lambda: pytest.fail("must not run")])
    cluster.deleted = True
    settling.settle(_item(config, "t2"), keep_own=False)
    assert config.stash[settling.QUEUE] == []


def test_a_disruptive_tests_clean_up_runs_at_once(config):
    cluster, ran = SimpleNamespace(deleted=False), []
    settling.finish(_request(config, "t1", disruptive=True), cluster, [lambda: ran.append("t1")])
    assert ran == ["t1"] and config.stash.get(settling.QUEUE, []) == []
