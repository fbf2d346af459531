"""Planted secrets never reach diagnostics or kind's exported logs; the rest of the text stays."""

from pathlib import Path

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
