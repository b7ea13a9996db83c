"""open_clip models: our tiny architecture registered as a JSON config, and their tokenizers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import cache

import open_clip
import torch
from torch import nn

from cibr_lab.cibr.assets import asset_path, load_asset
from cibr_lab.cibr.tokenizer import CaptionTokenizer, Overflow
from cibr_lab.errors import ConfigError

#: Architectures shipped with this package (``assets/<name>.json``).
LOCAL_MODELS = ("cibr-tiny",)

#: What open_clip logs (on the root logger) for every model built without weights.
UNTRAINED_MESSAGE = "No pretrained weights loaded for model"


class _DropUntrained(logging.Filter):
    """Drops open_clip's "randomly initialised" warning: training from scratch is the intent."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(UNTRAINED_MESSAGE)


@contextmanager
def _untrained_quietly() -> Iterator[None]:
    root, drop = logging.getLogger(), _DropUntrained()
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)


@cache
def register_models() -> tuple[str, ...]:
    """Register our JSON model configs with open_clip (once); return their names."""
    for name in LOCAL_MODELS:
        open_clip.add_model_config(asset_path(f"{name}.json"))
    return LOCAL_MODELS


def embedded_corpus() -> list[str]:
    """Every text the embedded data and prompts can produce, word by word (for a compact vocab)."""
    scenes, captions, prompts = load_asset("scenes"), load_asset("captions"), load_asset("prompts")
    texts = list(scenes["filler"]) + list(scenes["style"])
    for key in ("shape", "colour", "size", "position"):
        texts += [w for variants in scenes[key].values() for w in variants]
    for spec in captions.values():
        texts += [p.format("") for p in spec["phrases"]]
        texts += [w for names in spec["names"] for w in names]
    for key, classes in prompts["classes"].items():
        texts += [t.format("") for t in prompts["templates"][key]] + list(classes)
    return texts + ["a", "."]


def get_tokenizer(model_name: str, on_overflow: Overflow = "error") -> CaptionTokenizer:
    """The tokenizer of a model: compact over :func:`embedded_corpus` when the model's
    ``vocab_size`` is below open_clip's, else open_clip's full BPE vocabulary."""
    register_models()
    config = open_clip.get_model_config(model_name)
    if config is None:
        raise ConfigError(f"unknown model {model_name!r}; e.g. {', '.join(LOCAL_MODELS)}, ViT-B-32")
    text_cfg = config["text_cfg"]
    context, vocab = text_cfg.get("context_length", 77), text_cfg.get("vocab_size", 49408)
    full = CaptionTokenizer(context, on_overflow=on_overflow)
    if vocab >= full.vocab_size:
        return full
    return CaptionTokenizer.from_corpus(embedded_corpus(), context, vocab, on_overflow)


def create_model(
    model_name: str,
    pretrained: str | None = None,
    device: torch.device | str = "cpu",
) -> nn.Module:
    """An open_clip model (``output_dict=True``); ``pretrained`` weights are open_clip's tags and
    are fetched by open_clip itself (full profile only). Without ``pretrained`` the model is
    initialised randomly on purpose, so open_clip's warning that says so is not logged."""
    register_models()
    with _untrained_quietly() if pretrained is None else nullcontext():
        return open_clip.create_model(
            model_name, pretrained=pretrained, device=device, output_dict=True
        )
