"""The OOD-R committee of the full profile: pretrained classifiers and zero-shot CLIP.

Each annotator is a :class:`~cibr_lab.ood.models.SplitModel`-like module reading the protocol's
normalised images, so one loader feeds every model and the feature cache serves the committee
as it serves the classifier. Weights are local files (relative to ``data_dir()``); an annotator
whose file is absent is skipped with a warning, so the committee is optional: with fewer than
``committee_k`` annotators nothing is flagged and the rectified sets equal the raw ones.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import torch
from torch import nn

from cibr_lab.errors import MissingDataError
from cibr_lab.ood.models import SplitModel, build_model, resolve


class Adapted(nn.Module):
    """``model`` behind a conversion of inputs normalised by ``source`` (mean, std) to its own
    preprocessing: undo, resize to ``size`` (bilinear, antialiased), renormalise by ``target``."""

    def __init__(
        self,
        model: nn.Module,
        source: tuple[Sequence[float], Sequence[float]],
        target: tuple[Sequence[float], Sequence[float]],
        size: int,
    ) -> None:
        super().__init__()
        self.model = model
        self.size = int(size)
        for name, values in zip(("src_mean", "src_std", "dst_mean", "dst_std"), (*source, *target)):
            self.register_buffer(name, torch.tensor(values, dtype=torch.float32)[:, None, None])

    @property
    def head(self) -> nn.Linear:
        """The wrapped model's head."""
        return self.model.head

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Features ``[N, D]`` of the wrapped model on the converted inputs ``x [N, 3, H, W]``."""
        x = x * self.src_std + self.src_mean
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            size = (self.size, self.size)
            x = nn.functional.interpolate(x, size=size, mode="bilinear", antialias=True)
        return self.model.features((x - self.dst_mean) / self.dst_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, C]``."""
        return self.head(self.features(x))


class _ClipImage(nn.Module):
    def __init__(self, visual: nn.Module) -> None:
        super().__init__()
        self.visual = visual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.visual(x), dim=-1)


def clip_annotator(spec: dict, classes: Sequence[str], protocol: dict) -> nn.Module:
    """Zero-shot open_clip classifier: features are unit image embeddings ``[N, D]``, the head
    holds the unit text embeddings of ``"a photo of a {class}."`` scaled by the logit scale.

    ``spec``: ``{"arch": "open_clip", "model": name, "weights": local file}``.
    """
    import open_clip

    path = resolve(spec["weights"])
    if not path.exists():
        raise MissingDataError(
            f"model weights not found: expected {path}; on a machine with network run "
            f"`open_clip.create_model('{spec['model']}', pretrained='openai')` and copy the "
            "open_clip_model.safetensors it caches (under ~/.cache/huggingface/hub) there"
        )
    model = open_clip.create_model(spec["model"], pretrained=str(path)).eval()
    tokens = open_clip.get_tokenizer(spec["model"])([f"a photo of a {c}." for c in classes])
    with torch.no_grad():
        text = nn.functional.normalize(model.encode_text(tokens), dim=-1)
        head = nn.Linear(text.shape[1], len(classes), bias=False)
        head.weight.copy_(text * model.logit_scale.exp())
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size
    target = (model.visual.image_mean, model.visual.image_std)
    source = (protocol["mean"], protocol["std"])
    return Adapted(SplitModel(_ClipImage(model.visual), head), source, target, size)


def classifier_annotator(spec: dict, classes: Sequence[str], protocol: dict) -> nn.Module:
    """A classifier of :data:`~cibr_lab.ood.models.ARCHITECTURES` over the ID classes (its
    ``weights`` or ``checkpoint`` loaded by the architecture); an optional ``input:
    {size, mean, std}`` states its own preprocessing when it differs from the protocol's."""
    spec = dict(spec)
    preprocessing = spec.pop("input", None)
    model = build_model(spec, len(classes))
    if preprocessing is None:
        return model
    source = (protocol["mean"], protocol["std"])
    target = (preprocessing["mean"], preprocessing["std"])
    return Adapted(model, source, target, preprocessing["size"])


#: Annotator builders by ``arch``; any other ``arch`` is a classifier of the registry.
ANNOTATORS: dict[str, Callable[[dict, Sequence[str], dict], nn.Module]] = {
    "open_clip": clip_annotator
}


def build_annotators(
    specs: list[dict], classes: Sequence[str], protocol: dict, device: torch.device
) -> list[tuple[dict, nn.Module]]:
    """``(spec, model)`` of the annotators whose weights are present, on ``device`` in eval
    mode; each absent one is skipped with a warning that names its expected file."""
    out = []
    for spec in specs:
        build = ANNOTATORS.get(spec["arch"], classifier_annotator)
        try:
            out.append((spec, build(spec, classes, protocol).to(device).eval()))
        except FileNotFoundError as err:
            warnings.warn(f"OOD-R annotator {spec['arch']} skipped: {err}", stacklevel=2)
    return out
