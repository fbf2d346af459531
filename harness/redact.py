"""Secrets out of what the harness writes for people and CI to read (diagnostics, kind's logs).

A kind node's journal, its containerd logs and the objects the API server returns can hold the
cluster's admin credentials: bearer tokens in request logs, PEM blocks (private keys, client
certificates), kubeconfig fields (client-key-data, client-certificate-data, token), and
ServiceAccount JWTs. Each is replaced by a marker that says what was there.
"""

from __future__ import annotations

import re
from pathlib import Path

REDACTED = "[redacted by static-pod-harness]"

_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.DOTALL)
_BEARER = re.compile(r"\b(bearer)(\s+)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
# `key: value` in YAML, `"key": "value"` in JSON, `key=value` in flags.
_FIELDS = re.compile(
    r"""(?P<key>["']?(?:client-key-data|client-certificate-data|token|password|"""
    r"""client-key|client-certificate)["']?)(?P<sep>\s*[:=]\s*)(?P<value>"[^"\n]*"|'[^'\n]*'|[^\s,}\n]+)""",
    re.IGNORECASE,
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+")


def redact(text: str) -> str:
    text = _PEM.sub(lambda m: f"-----BEGIN {m[1]}----- {REDACTED} -----END {m[1]}-----", text)
    text = _JWT.sub(REDACTED, text)
    text = _BEARER.sub(rf"\1\2{REDACTED}", text)
    return _FIELDS.sub(lambda m: f"{m['key']}{m['sep']}{REDACTED}", text)


def redact_tree(directory: Path) -> int:
    """Redact every file under `directory` in place (bytes that are not UTF-8 are kept as they are);
    returns how many files changed."""
    changed = 0
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and not p.is_symlink()):
        text = path.read_bytes().decode("utf-8", errors="surrogateescape")
        clean = redact(text)
        if clean != text:
            path.write_bytes(clean.encode("utf-8", errors="surrogateescape"))
            changed += 1
    return changed
