"""One seed of a full-profile protocol, prepared for the chapter's shared scoring code.

Per seed: the classifier (an OpenOOD or torchvision checkpoint, else trained here), features and
logits of every split and OOD set extracted once through the :class:`FeatureCache` (chunked by
the loaders, on the device, bf16 autocast on CUDA) and kept on the device for scoring, and the
committee's decisions from the annotators' cached logits (annotators are pretrained: their
features are cached once for all seeds).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import torch

from cibr_lab.ood.experiment import SeedRun
from cibr_lab.ood.features import Extracted, FeatureCache
from cibr_lab.ood.full.annotators import build_annotators
from cibr_lab.ood.full.data import build_full_benchmark
from cibr_lab.ood.full.train import classifier
from cibr_lab.ood.oodr import Committee, committee_filter


def _fingerprint(value: object) -> str:
    return hashlib.sha1(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-1 of the model's parameters and buffers, in state-dict order."""
    digest = hashlib.sha1()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def no_committee(n: int, k: int, threshold: float) -> Committee:
    """The decision of a committee too small to reach ``k`` votes: nothing flagged."""
    return Committee(
        votes=np.zeros((n, 0), np.int64),
        confidence=np.zeros((n, 0)),
        agreement=np.zeros(n, np.int64),
        label=np.full(n, -1),
        flagged=np.zeros(n, bool),
        k=int(k),
        threshold=float(threshold),
    )


def _on(found: Extracted, device: torch.device) -> Extracted:
    return Extracted(found.features.to(device), found.logits.to(device), found.labels)


def prepare_full(cfg: dict, root: Path, seed: int, device: torch.device) -> SeedRun:
    """Load or train the seed's classifier, extract (or load) every feature, run the committee.

    ``root`` holds this profile's checkpoints and feature caches; the data are read under
    ``data_dir()``. Features are returned on ``device``.
    """
    bench = build_full_benchmark(cfg)
    n_classes = len(bench.classes)
    model = classifier(
        cfg["model"],
        n_classes,
        bench.protocol,
        cfg["train"],
        seed,
        device,
        root / "checkpoints" / f"classifier-seed{seed}.pt",
    )
    data_key = {k: cfg[k] for k in cfg if k.startswith("n_") or k in ("benchmark", "data_seed")}
    sets = {"id_train": bench.train[0], "id_val": bench.val[0], "id_test": bench.test[0]}
    sets["val_ood"] = bench.val_ood
    sets.update({name: s.images for name, s in bench.ood.items()})
    # keyed by the weights themselves (loaded or trained here) and the data drawn
    key = _fingerprint({"weights": weights_digest(model), "data": data_key})
    cache = FeatureCache(root / "features" / f"seed{seed}-{key}")
    features = {
        name: _on(cache.get("classifier", name, model, data, cfg["batch_size"]), device)
        for name, data in sets.items()
    }
    annotators = build_annotators(cfg["annotators"], bench.classes, bench.protocol, device)
    k, threshold = cfg["committee_k"], cfg["committee_threshold"]
    if len(annotators) < k:
        warnings.warn(
            f"OOD-R disabled: {len(annotators)} of {len(cfg['annotators'])} annotators have "
            f"weights, committee_k = {k}; the rectified sets equal the raw ones",
            stacklevel=2,
        )
    shared = {  # pretrained: one cache per annotator's weights for every seed
        id(annotator): FeatureCache(
            root / "features" / f"annotator-{_fingerprint([weights_digest(annotator), data_key])}"
        )
        for _, annotator in annotators
    }
    committees = {}
    for name, ood in bench.ood.items():
        if len(annotators) < k:
            committees[name] = no_committee(len(ood.items), k, threshold)
            continue
        probs = []
        for _, annotator in annotators:
            cache_ = shared[id(annotator)]
            logits = cache_.get("annotator", name, annotator, ood.images, cfg["batch_size"]).logits
            probs.append(logits.softmax(dim=1).double().numpy())
        committees[name] = committee_filter(np.stack(probs), k, threshold)
    odin = {"input_std": list(bench.protocol["std"])}  # inputs arrive normalised
    annotator_models = [a for _, a in annotators]
    return SeedRun(cfg, bench, model, features, committees, annotator_models, {"odin": odin})
