"""Secrets out of what the harness writes for people and CI to read (diagnostics, kind's logs).

A kind node's journal, its containerd logs and the objects the API server returns can hold the
cluster's admin credentials: bearer tokens and Authorization headers in request logs, PEM blocks
(private keys, client certificates; whole, cut short, or base64-encoded as in a kubeconfig), fields
of kubeconfigs and Secrets (client-key-data or clientKeyData, token, password, tls.key, a docker
config's auth), in YAML (a value on the key's line or below it), JSON or flags (`--token=X`,
`--token X`), and ServiceAccount JWTs. Each is replaced by a marker that says what was there.
"""

from __future__ import annotations

import re
from pathlib import Path

REDACTED = "[redacted by static-pod-harness]"

# Names of fields that hold a secret, in any case, with -, _ or nothing between words
# (client-key-data, clientKeyData), and the data keys of Secrets that hold one (tls.key,
# ssh-privatekey, .dockerconfigjson, a docker config's auth: a key of its own, not the end of a
# flag's name such as --enable-bootstrap-token-auth).
_SECRET_KEYS = (
    r"(?:client[-_]?(?:key|certificate)(?:[-_]?data)?|(?:(?:id|access|refresh|bearer|bootstrap)[-_]?)?token"
    r"|password|[\w-]+\.key|ssh[-_]privatekey|\.dockerconfigjson|\.dockercfg|(?<![-_])auth)"
)
# A key starts a word: not serviceAccountToken, not a path's /apiserver.key.
_KEY_START = r"(?<![\w./])"
_NOT_REDACTED = rf"""(?!["']?{re.escape(REDACTED)})"""
# A quoted value, escapes and all (JSON's \", YAML's ''), or what is left of one cut at the line's end.
_QUOTED = r""""(?:[^"\\\n]|\\.)*"?|'(?:[^'\n]|'')*'?"""
_EOL = r"(?:\r?\n|(?:\\r)?\\n)"  # a line break, or one escaped in a JSON string
# A line of base64 (blank lines before it count too), whole: up to a line break, a quote or the end.
_BASE64_LINE = rf"""(?:{_EOL}[ \t]*)*{_EOL}[ \t]*[A-Za-z0-9+/=]+[ \t]*(?={_EOL}|["']|\Z)"""

# A PEM block: whole, or cut short (no END line: its base64 lines up to the first other line).
_PEM = re.compile(
    r"-----BEGIN (?P<label>[A-Z0-9 ]+)-----"
    r"(?:(?:(?!-----BEGIN ).)*?-----END (?P=label)-----(?P<end>)"
    rf"|(?:{_EOL}[A-Za-z-]+: [^\n\\]*)*(?:{_BASE64_LINE})*)",
    re.DOTALL,
)
# A PEM block in base64 (kubeconfig *-data fields, Secret data): "-----BEGIN" encodes to LS0tLS1CRUdJTi.
_BASE64_PEM = re.compile(rf"LS0tLS1CRUdJTi[A-Za-z0-9+/=]*(?:{_BASE64_LINE})*")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+")
# RFC 6750's b64token, however short; "bearer token" is words, not a credential.
_BEARER = re.compile(r"\b(bearer)(\s+)(?!token\b)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
# Any other scheme of an Authorization header (Basic base64(user:password), ...): the credential
# (client-go's own `<masked>` stays).
_AUTHORIZATION = re.compile(
    rf"""(?P<head>\bauthorization["']?[ \t]*[:=][\["' \t]*[A-Za-z-]+[ \t]+){_NOT_REDACTED}[^\s"'\\\],<]+""",
    re.IGNORECASE,
)
# A YAML key whose value is on the lines below it (`token: |`, `token: >-`, `token:`), and that block.
_BLOCK_KEY = re.compile(
    rf"""^(?P<lead>[ \t]*(?:-[ \t]+)?)(?P<key>(?P<q>["']?){_SECRET_KEYS}(?P=q))[ \t]*:"""
    r"""[ \t]*(?:[|>][-+0-9]*)?[ \t]*(?:#[^\n]*)?$""",
    re.IGNORECASE | re.MULTILINE,
)
_NEXT_LINE = re.compile(r"\n(?P<line>[^\n]*)")
# `key: value` in YAML, `"key": "value"` in JSON, `key=value` in flags.
_FIELDS = re.compile(
    rf"""(?P<key>{_KEY_START}(?P<q>["']?){_SECRET_KEYS}(?P=q))(?P<sep>[ \t]*[:=][ \t]*){_NOT_REDACTED}"""
    rf"""(?P<value>{_QUOTED}|[^\s,}}\n]+)""",
    re.IGNORECASE,
)
# `--token value`, `--password value`: a flag and its value as the next argument.
_FLAGS = re.compile(
    rf"""(?P<flag>(?<![\w-])--{_SECRET_KEYS})(?P<sep>[ \t]+){_NOT_REDACTED}"""
    rf"""(?P<value>{_QUOTED}|(?!-)[^\s"'\\]+)""",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    text = _redact_blocks(text)
    text = _PEM.sub(_pem_marker, text)
    text = _BASE64_PEM.sub(REDACTED, text)
    text = _JWT.sub(REDACTED, text)
    text = _BEARER.sub(rf"\1\2{REDACTED}", text)
    text = _AUTHORIZATION.sub(lambda m: f"{m['head']}{REDACTED}", text)
    text = _FLAGS.sub(lambda m: f"{m['flag']}{m['sep']}{REDACTED}", text)
    return _FIELDS.sub(lambda m: f"{m['key']}{m['sep']}{REDACTED}", text)


def _pem_marker(block: re.Match[str]) -> str:
    """The block's label kept, its content replaced; a block cut short stays without an END line."""
    label = block["label"]
    end = f" -----END {label}-----" if block["end"] is not None else ""
    return f"-----BEGIN {label}----- {REDACTED}{end}"


def _redact_blocks(text: str) -> str:
    """Replace the value of a secret key that is on the lines below it (a YAML block scalar, or a
    plain scalar on the next line): every line indented deeper than the key, up to the first that
    is not; the key's line then holds the marker."""
    parts, done = [], 0
    for key_line in _BLOCK_KEY.finditer(text):
        if key_line.start() < done:
            continue
        end = _block_end(text, key_line.end(), len(key_line["lead"]))
        if end > key_line.end():
            parts.append(f"{text[done : key_line.start()]}{key_line['lead']}{key_line['key']}: {REDACTED}")
            done = end
    return "".join(parts) + text[done:]


def _block_end(text: str, start: int, key_indent: int) -> int:
    """Where the lines after `start` that are indented deeper than `key_indent` end (blank lines count
    only between two such lines)."""
    end = position = start
    while line := _NEXT_LINE.match(text, position):
        content = line["line"]
        if content.strip():
            if len(content) - len(content.lstrip(" \t")) <= key_indent:
                break
            end = line.end()
        position = line.end()
    return end


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
