"""The kubelet metrics the grace-period tests read: the Prometheus text format, and absent series."""

from harness.staticpods.metrics import KubeletMetrics, parse_samples

TEXT = """\
# HELP kubelet_mirror_pods [ALPHA] The number of mirror pods the kubelet will try to create
# TYPE kubelet_mirror_pods gauge
kubelet_mirror_pods 5
kubelet_working_pods{config="desired",lifecycle="sync",static="true"} 4
kubelet_working_pods{config="orphan",lifecycle="terminating",static="true"} 1
kubelet_working_pods{config="orphan",lifecycle="terminating",static=""} 0
"""


def test_samples_are_keyed_by_name_and_labels() -> None:
    samples = parse_samples(TEXT)

    assert samples[("kubelet_mirror_pods", frozenset())] == 5
    key = (
        "kubelet_working_pods",
        frozenset({("config", "orphan"), ("lifecycle", "terminating"), ("static", "")}),
    )
    assert samples[key] == 0
    assert len(samples) == 4


def test_static_workers_select_static_true_and_absent_series_count_as_zero() -> None:
    metrics = KubeletMetrics(parse_samples(TEXT))

    assert (metrics.mirror_pods, metrics.static_workers("orphan", "terminating")) == (5, 1)
    assert metrics.static_workers("desired", "sync") == 4
    assert metrics.static_workers("runtime_only", "terminated") == 0
