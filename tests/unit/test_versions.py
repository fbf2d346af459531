import pytest

from harness.errors import HarnessError
from harness.versions import DEFAULT_K8S_VERSION, KubeVersion


def test_parse_accepts_both_forms():
    assert KubeVersion.parse("1.34.4") == KubeVersion.parse("v1.34.4") == KubeVersion(1, 34, 4)
    assert KubeVersion.parse("1.33.13").tag == "v1.33.13"
    assert KubeVersion.parse("1.35.4").staging_tag == "v0.35.4"
    assert KubeVersion.parse(DEFAULT_K8S_VERSION)


@pytest.mark.parametrize(
    "text, message",
    [
        ("1.34", "major.minor.patch"),
        ("latest", "major.minor.patch"),
        ("1.20.1", "not supported"),
    ],
)
def test_bad_versions_say_what_to_do(text, message):
    with pytest.raises(HarnessError, match=message):
        KubeVersion.parse(text)
