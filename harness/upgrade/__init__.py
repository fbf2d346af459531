"""Kubelet upgrade regression check: records before and after the swap, their diff, the report.

Pure logic, no cluster: the orchestration fills an UpgradeRecord (records.py), diff.py
says what happened to each static pod, report.py writes upgrade.md/.json/.html, and
binary.py checks a user's kubelet binary and the FROM/TO order.
"""
