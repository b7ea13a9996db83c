"""Quoted numbers live in references.yaml with a source; the chapters only read them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cibr_lab import references
from cibr_lab.book import chapter_sources
from cibr_lab.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
CALL = re.compile(r"references\.(get|reference)\(\s*\"([^\"]+)\"")


def _chapter_calls() -> list[tuple[str, str, str]]:
    return [
        (src.name, kind, key)
        for src in chapter_sources(ROOT)
        for kind, key in CALL.findall(src.read_text())
    ]


def test_every_key_the_chapters_use_exists():
    calls = _chapter_calls()
    assert {name for name, _, _ in calls} >= {"01_information_bottleneck.py", "02_cibr.py"}
    for name, kind, key in calls:
        found = references.get(key) if kind == "get" else references.reference(key)
        assert found is not None, f"{name}: {kind}({key!r})"


def test_every_entry_states_its_source_unit_and_kind():
    groups = references.references()
    assert "openood_v15_cifar10_resnet18" in groups
    for ref in groups.values():
        assert all(getattr(ref, f).strip() for f in references.FIELDS), ref.key
        assert ref.kind in references.KINDS
        assert ref.values and all(isinstance(v, int | float) for v in ref.values.values())
        assert ref.source in ref.citation() and ref.url in ref.citation()
    estimates = {k for k, r in groups.items() if r.kind == "our_estimate"}
    assert estimates == {"gpu_time_cibr_full", "gpu_time_ood_full"}


def test_values_are_the_published_ones():
    assert references.get("open_clip_vit_b32_openai.cifar10_acc1") == 89.83
    assert references.get("openood_v15_cifar10_resnet18.gradnorm_near") == 54.90
    assert references.reference("distil_cifar10_resnet18").unit == "test accuracy (fraction)"


def test_chapters_type_no_quoted_number():
    typed = ("89.83", "88.03", "0.905", "32768", "2048-dim", "../shared", "issue 4")
    for src in chapter_sources(ROOT):
        text = src.read_text()
        assert not [t for t in typed if t in text], src.name


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("nowhere.x", "unknown reference 'nowhere'; known: open_clip_vit_b32_openai"),
        ("resnet50.width", "unknown reference 'resnet50.width'; resnet50 has: feature_dim"),
        ("resnet50", "reference key 'resnet50' must read 'group.name'"),
    ],
)
def test_bad_keys_are_named(key, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        references.get(key)


def test_an_entry_without_a_source_is_refused():
    with pytest.raises(ConfigError, match=r"references.yaml 'x' lacks source, url"):
        references._parse(
            "x", {"where": "Table 1", "unit": "%", "kind": "published", "values": {"a": 1.0}}
        )
    with pytest.raises(ConfigError, match=r"'x' values \['a'\] are not numbers"):
        references._parse(
            "x",
            {
                "source": "s",
                "url": "u",
                "where": "w",
                "unit": "%",
                "kind": "published",
                "values": {"a": "high"},
            },
        )
