"""Kubelet upgrade regression check: a node's kubelet upgraded in place under its static pods.

plan.py checks the inputs before anything is built; check.py runs the check on a cluster
(swap.py replaces the kubelet, observe.py records the pods and watches their Ready);
records.py holds what was recorded, diff.py says what happened to each static pod, and
report.py writes upgrade.md/.json/.html. records, diff, report, binary and plan are pure
logic that runs without a cluster.
"""
