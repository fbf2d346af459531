"""Planted secrets never reach diagnostics or kind's exported logs; the rest of the text stays."""

import base64
import json
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.plugin.diagnostics import Bundle
from harness.redact import REDACTED, redact, redact_tree

KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAplantedprivatekey\n-----END RSA PRIVATE KEY-----"
CERT = "-----BEGIN CERTIFICATE-----\nMIIDBTCCAe2gAwIBAgIIplantedcert\n-----END CERTIFICATE-----"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06YWRtaW4ifQ.c2lnbmF0dXJlcGxhbnRlZA"
KUBECONFIG = """users:
- name: kind-x
  user:
    client-certificate-data: LS0tLS1CRUdJTplantedcertdata
    client-key-data: LS0tLS1CRUdJTplantedkeydata
    token: plantedtoken123
"""
PLANTED = ("plantedprivatekey", "plantedcert", "plantedcertdata", "plantedkeydata", "plantedtoken", JWT)


def assert_clean(text: str) -> None:
    assert not [secret for secret in PLANTED if secret in text]
    assert REDACTED in text


def test_each_kind_of_secret_is_redacted_and_says_what_it_was():
    text = redact(
        f"{KEY}\n{CERT}\n{KUBECONFIG}"
        f"I0101 request.go:1] curl -H 'Authorization: Bearer {JWT}' https://x\n"
        'I0101 {"token": "plantedtoken123", "kind": "TokenRequest"}\n'
        "I0101 --token=plantedtoken123 --v=2\n"
    )
    assert_clean(text)
    assert "-----BEGIN RSA PRIVATE KEY----- [redacted" in text
    assert "-----BEGIN CERTIFICATE----- [redacted" in text
    assert '"kind": "TokenRequest"' in text and "--v=2" in text and "- name: kind-x" in text


def test_ordinary_log_lines_are_kept():
    line = 'I0101 12:00:00 kubelet.go:2400] "SyncLoop ADD" source="file" pods=["default/web-node"]'
    assert redact(line) == line


def test_a_planted_secret_is_redacted_in_a_diagnostics_bundle(tmp_path: Path):
    bundle = Bundle(tmp_path)
    bundle.add("node-kubelet.log", lambda: f"E0101 x] Authorization: Bearer {JWT}\n{KEY}\n")
    bundle.add("mirror.yaml", lambda: KUBECONFIG)
    for path in bundle.files:
        assert_clean(path.read_text())


def test_exported_kind_logs_are_redacted_in_place(tmp_path: Path):
    node = tmp_path / "kind-logs" / "x-control-plane"
    node.mkdir(parents=True)
    (node / "journal.log").write_text(f"kubelet[1]: using token: plantedtoken123\n{CERT}\n")
    (node / "kubeconfig").write_text(KUBECONFIG)
    (node / "image.tar").write_bytes(b"\xff\xfe binary \x00 kept")
    (node / "clean.log").write_text("nothing secret\n")
    assert redact_tree(tmp_path / "kind-logs") == 2
    assert_clean((node / "journal.log").read_text())
    assert_clean((node / "kubeconfig").read_text())
    assert (node / "image.tar").read_bytes() == b"\xff\xfe binary \x00 kept"
    assert (node / "clean.log").read_text() == "nothing secret\n"


# --- every shape a secret comes in ---------------------------------------------------------------

PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCplantedpem\nAQEAplantedpemsecondline"
# Each: text that holds a secret, the secret's pieces (none may survive), what must be kept.
SHAPES = [
    (
        "a YAML block scalar",
        "user:\n  token: |\n    plantedblock-a\n    plantedblock-b\n  kept: yes\n",
        "plantedblock",
        "kept: yes",
    ),
    (
        "a folded block scalar, stripped",
        "user:\n  client-key-data: >-\n    plantedfolded\nkept: yes\n",
        "plantedfolded",
        "kept: yes",
    ),
    (
        "a plain value on the next line",
        "- token:\n    plantednextline\n- name: kept\n",
        "plantednextline",
        "- name: kept",
    ),
    (
        "an escaped quote in a JSON string",
        '{"token": "abc\\"def-plantedsecret", "kind": "kept"}',
        "plantedsecret",
        '"kind": "kept"',
    ),
    ("a JSON string cut short", '{"kind": "kept", "password": "plantedcut', "plantedcut", '"kind": "kept"'),
    (
        "Authorization: Basic",
        "curl -H 'Authorization: Basic cGxhbnRlZDpiYXNpYw==' https://kept",
        "cGxhbnRlZDpiYXNpYw",
        "https://kept",
    ),
    (
        "Authorization in Go's header map",
        "map[Authorization:[Basic cGxhbnRlZGdv] Accept:[kept]]",
        "cGxhbnRlZGdv",
        "Accept:[kept]",
    ),
    (
        "camelCase clientKeyData",
        "clientKeyData: cGxhbnRlZGtleQ==\nkept: yes\n",
        "cGxhbnRlZGtleQ",
        "kept: yes",
    ),
    (
        "camelCase clientCertificateData in JSON",
        '{"clientCertificateData":"cGxhbnRlZGNlcnQ=","kept":1}',
        "cGxhbnRlZGNlcnQ",
        '"kept":1',
    ),
    (
        "a Secret's tls.key",
        "data:\n  tls.crt: kept\n  tls.key: cGxhbnRlZHRscw==\n",
        "cGxhbnRlZHRscw",
        "tls.crt: kept",
    ),
    (
        "a docker config's auth",
        '{"auths":{"r.io":{"auth":"cGxhbnRlZGF1dGg=","email":"kept"}}}',
        "cGxhbnRlZGF1dGg",
        '"email":"kept"',
    ),
    (
        "a PEM block with no END line",
        f"-----BEGIN PRIVATE KEY-----\n{PEM_BODY}\nI0101 kept\n",
        "plantedpem",
        "I0101 kept",
    ),
    (
        "a PEM block cut at the end",
        f"I0101 kept\n-----BEGIN PRIVATE KEY-----\n{PEM_BODY}",
        "plantedpem",
        "I0101 kept",
    ),
    (
        "base64 of a PEM block",
        f"value: {base64.b64encode(KEY.encode()).decode()}\nkept: yes",
        "LS0tLS1CRUdJTi",
        "kept: yes",
    ),
    (
        "--token VALUE",
        "kubeadm join x:6443 --token plantedflag.0123456789 --v=5 kept",
        "plantedflag",
        "--v=5 kept",
    ),
    ("a short bearer token", "Authorization: Bearer abc123\nkept", "abc123", "kept"),
]


@pytest.mark.parametrize(
    ("text", "secret", "kept"), [shape[1:] for shape in SHAPES], ids=[s[0] for s in SHAPES]
)
def test_every_shape_of_a_secret_is_redacted_and_the_text_around_it_kept(text: str, secret: str, kept: str):
    clean = redact(text)
    assert secret not in clean
    assert REDACTED in clean and kept in clean


@pytest.mark.parametrize(
    "text",
    [
        "invalid bearer token",
        "Authorization: Bearer <masked>",
        "serviceAccountToken:\n  path: token\n  expirationSeconds: 3607\n",
        "open /etc/kubernetes/pki/apiserver.key: permission denied",
        "--token-ttl 24h0m0s --tokens=3 --enable-bootstrap-token-auth=true --authorization-mode=Node,RBAC",
    ],
)
def test_words_about_secrets_are_not_secrets(text: str):
    assert redact(text) == text


@dataclass(frozen=True)
class Shape:
    """Text that holds a secret drawn from `secrets`, and a part of it that holds none."""

    name: str
    secrets: st.SearchStrategy[str]
    render: Callable[[str], str]
    kept: str

    def __repr__(self) -> str:
        return self.name


ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30)
BASE64 = st.binary(min_size=1, max_size=48).map(lambda raw: base64.b64encode(raw).decode())
B64TOKEN = st.text(string.ascii_letters + string.digits + "-._~+/", min_size=1, max_size=40)
ARGUMENT = st.text(
    st.characters(exclude_categories=["Cs", "Z", "Cc"], exclude_characters="\\\"'-"), min_size=1
)
LINE = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\n"), min_size=1).filter(
    str.strip
)
KEY_NAMES = [
    "token",
    "password",
    "client-key-data",
    "clientKeyData",
    "clientCertificateData",
    "tls.key",
    "auth",
]

PEM_BODY_LINES = st.lists(BASE64, min_size=1, max_size=4).map("\n".join)
PROPERTY_SHAPES = [
    *(
        Shape(
            f"a YAML block scalar ({key}: {indicator})",
            st.lists(LINE, min_size=1, max_size=4).map("\n".join),
            lambda secret, key=key, indicator=indicator: (
                f"users:\n- name: kind-x\n  user:\n    {key}: {indicator}\n"
                + "".join(f"      {line}\n" for line in secret.split("\n"))
                + "    kept: yes\n"
            ),
            "    kept: yes\n",
        )
        for key in ("token", "client-key-data", "tls.key")
        for indicator in ("|", "|-", ">+", "")
    ),
    *(
        Shape(
            f"a JSON string ({key})",
            ANY_TEXT,
            lambda secret, key=key: json.dumps({"kind": "kept", key: secret, "apiVersion": "v1"}),
            '"apiVersion": "v1"',
        )
        for key in KEY_NAMES
    ),
    *(
        Shape(
            f"a YAML value ({key})",
            BASE64,
            lambda secret, key=key: f"{key}: {secret}\nkept: yes\n",
            "kept: yes",
        )
        for key in KEY_NAMES
    ),
    Shape(
        "Authorization: Basic", BASE64, lambda secret: f'-H "Authorization: Basic {secret}" kept', '" kept'
    ),
    Shape("a bearer token", B64TOKEN, lambda secret: f"Authorization: Bearer {secret}\nkept", "\nkept"),
    Shape("--token VALUE", ARGUMENT, lambda secret: f"kubeadm join --token {secret} --v=5", " --v=5"),
    Shape(
        "a docker config",
        BASE64,
        lambda secret: json.dumps({"auths": {"r.io": {"auth": secret}}, "kept": 1}),
        '"kept": 1',
    ),
    *(
        shape
        for label in ("RSA PRIVATE KEY", "CERTIFICATE")
        for shape in (
            Shape(
                f"a {label} block with no END line",
                PEM_BODY_LINES,
                lambda body, label=label: f"-----BEGIN {label}-----\n{body}\nI0101 kept line",
                "I0101 kept line",
            ),
            Shape(
                f"a {label} block cut short in a JSON string",
                PEM_BODY_LINES,
                lambda body, label=label: json.dumps(
                    {"data": f"-----BEGIN {label}-----\n{body}", "kind": "kept"}
                ),
                '"kind": "kept"',
            ),
            Shape(
                f"a base64-encoded {label} block",
                PEM_BODY_LINES,
                lambda body, label=label: (
                    f"    value: {base64.b64encode(f'-----BEGIN {label}-----{body}'.encode()).decode()}\n"
                    "    kept: yes"
                ),
                "kept: yes",
            ),
        )
    ),
]


@settings(max_examples=500, deadline=None)
@given(shape=st.sampled_from(PROPERTY_SHAPES), data=st.data())
def test_nothing_of_a_random_secret_survives_in_any_shape(shape: Shape, data: st.DataObject):
    """What redaction leaves does not depend on the secret at all: two secrets, one text."""
    first, second = data.draw(shape.secrets), data.draw(shape.secrets)
    clean = redact(shape.render(first))
    assert clean == redact(shape.render(second))
    assert REDACTED in clean and shape.kept in clean
