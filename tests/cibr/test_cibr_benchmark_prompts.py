"""Our copy of CLIP_benchmark's zero-shot templates and class names (assets/clip_benchmark.json)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
from pathlib import Path

import pytest

from cibr_lab.cibr.assets import load_asset
from cibr_lab.cibr.full_data import ZEROSHOT_SETS, benchmark_prompts
from cibr_lab.runtime import get_profile


def test_asset_covers_exactly_the_full_profile_sets():
    asset = load_asset("clip_benchmark")
    full = get_profile("full").section("cibr")["full_zeroshot"]
    assert sorted(asset["templates"]) == sorted(ZEROSHOT_SETS) == sorted(full)
    named = set(asset["classnames"]) | set(asset["dataset_classnames"])
    assert sorted(named) == sorted(full) and not set(asset["classnames"]) & set(
        asset["dataset_classnames"]
    )


def test_asset_pins_known_clip_benchmark_facts():
    asset = load_asset("clip_benchmark")
    assert asset["source"]["package"] == "clip_benchmark"
    assert asset["source"]["version"] == "1.6.2"
    cifar10 = asset["templates"]["cifar10"]
    assert len(cifar10) == 18 and cifar10[0] == "a photo of a {c}."
    assert asset["templates"]["cifar100"] == cifar10
    assert [len(asset["templates"][k]) for k in ("food101", "pets", "dtd", "sun397")] == [
        1,
        1,
        8,
        2,
    ]
    assert asset["classnames"]["eurosat"][0] == "annual crop land"
    assert len(asset["classnames"]["pets"]) == 37


def test_dataset_class_names_follow_clip_benchmark_rules():
    names, templates = benchmark_prompts("sun397", ["abbey", "apartment_building/outdoor"])
    assert names == ["abbey", "apartment building outdoor"] and len(templates) == 2
    assert benchmark_prompts("food101", ["apple_pie"])[0] == ["apple pie"]
    assert benchmark_prompts("cifar100", ["aquarium_fish"])[0] == ["aquarium_fish"]
    assert benchmark_prompts("eurosat", [f"c{i}" for i in range(10)])[0][-1] == "lake or sea"
    with pytest.raises(ValueError, match="eurosat has 3 classes but CLIP_benchmark names 10"):
        benchmark_prompts("eurosat", ["AnnualCrop", "Forest", "SeaLake"])
    with pytest.raises(KeyError, match="no CLIP_benchmark prompts for 'imagenet1k'"):
        benchmark_prompts("imagenet1k", ["tench"])


def test_asset_equals_the_clip_benchmark_package_data():
    spec = importlib.util.find_spec("clip_benchmark")
    if spec is None or spec.origin is None:
        pytest.skip("clip_benchmark is not installed")
    asset = load_asset("clip_benchmark")
    version = importlib.metadata.version("clip_benchmark")
    if version != asset["source"]["version"]:
        pytest.skip(f"clip_benchmark {version} installed, the asset copies 1.6.2")
    folder = Path(spec.origin).parent / "datasets"
    templates = json.loads((folder / "en_zeroshot_classification_templates.json").read_text())
    classnames = json.loads((folder / "en_classnames.json").read_text())
    for name in ZEROSHOT_SETS:
        assert asset["templates"][name] == templates[name], name
        if name in asset["classnames"]:
            assert asset["classnames"][name] == classnames[name], name
        else:  # CLIP_benchmark takes these from the dataset
            assert name not in classnames, name
