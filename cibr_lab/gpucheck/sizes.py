"""How big each section is: the GPU preset and the tiny CPU preset (configuration as data)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckSizes:
    """Sizes of every section; :data:`FULL` on CUDA, :data:`TINY` on a CPU (seconds on 2 cores)."""

    clip_model: str
    clip_batch: int
    clip_warmup: int
    clip_steps: int
    ood_width: int
    ood_dim: int
    ood_classes: int
    ood_train: int
    ood_test: int
    al_pool: int
    al_initial: int
    al_budget: int
    al_epochs: int
    al_batch: int
    retrieval_images: int
    captions_per_image: int
    retrieval_dim: int
    zeroshot_images: int


FULL = CheckSizes(
    clip_model="ViT-B-32",
    clip_batch=256,
    clip_warmup=3,
    clip_steps=10,
    ood_width=32,
    ood_dim=128,
    ood_classes=10,
    ood_train=4096,
    ood_test=1024,
    al_pool=4096,
    al_initial=256,
    al_budget=128,
    al_epochs=4,
    al_batch=64,
    retrieval_images=5000,
    captions_per_image=5,
    retrieval_dim=512,
    zeroshot_images=1024,
)

TINY = CheckSizes(
    clip_model="cibr-tiny",
    clip_batch=8,
    clip_warmup=1,
    clip_steps=2,
    ood_width=4,
    ood_dim=16,
    ood_classes=4,
    ood_train=64,
    ood_test=16,
    al_pool=64,
    al_initial=16,
    al_budget=4,
    al_epochs=4,
    al_batch=8,
    retrieval_images=40,
    captions_per_image=2,
    retrieval_dim=16,
    zeroshot_images=16,
)
