"""The full profile: the OpenOOD v1.5 CIFAR-10 and ImageNet-1K protocols, read from disk.

``cibr-lab run ood --profile full`` runs the CIFAR-10 protocol (ResNet-18 32x32, OpenOOD's
released checkpoints ``s0..s2`` when present under ``data_dir()``, else trained here; near =
CIFAR-100, TinyImageNet; far = MNIST, SVHN, Textures, Places365). :func:`run_imagenet` runs the
ImageNet-1K protocol (torchvision ResNet-50 from a local weights file; near = SSB-hard, NINCO,
ImageNet-O; far = iNaturalist, Textures, OpenImage-O, SUN, Places): the ``full`` profile with the
settings of ``openood.yaml``'s ``openood_imagenet.profile`` block, records under the profile
label ``full-imagenet``. Both use the embedded profile's scoring code unchanged.

Data layout under ``data_dir()`` (``CIBR_LAB_DATA``)::

    openood/benchmark_imglist/{cifar10,imagenet}/*.txt     OpenOOD v1.5 image lists
    openood/images_classic/...  openood/images_largescale/...   their images (+ sun/, places/,
                                                            imagenet_o/ folders for ImageNet)
    openood/checkpoints/cifar10_resnet18_32x32_base_e100_lr0.1_default/s{0,1,2}/best.ckpt
    cifar10/cifar-10-batches-py/                            torchvision CIFAR-10 (training)
    torchvision/*.pth  open_clip/*.safetensors              pretrained weights

Expected time on one H100-class GPU with 16 data workers (estimates, not measured here): CIFAR-10
about 5-8 min per seed from a released checkpoint, plus about 15 min per seed trained here
(seeds 3 and 4); ImageNet-1K about 30-45 min for its single seed.
"""

from __future__ import annotations

import pandas as pd

from cibr_lab.ood.openood import protocols
from cibr_lab.runtime import WHOLE, Profile, Shard, get_profile

IMAGENET_LABEL = "imagenet"


def imagenet_profile(base: Profile | str = "full", ood: dict | None = None) -> Profile:
    """``base`` with the ImageNet-1K protocol's ood settings and seeds (``openood.yaml``), then
    the ``ood`` overrides (e.g. a smaller model for a test)."""
    base = get_profile(base) if isinstance(base, str) else base
    spec = protocols()["openood_imagenet"]
    overrides = {name: dict(section) for name, section in base.sections.items()}
    overrides["ood"].update({**spec["profile"], **(ood or {})})
    return get_profile(base.name, overrides=overrides, seeds=spec["seeds"])


def run_imagenet(
    profile: Profile, device: str | None = None, ood: dict | None = None, shard: Shard = WHOLE
) -> dict[str, pd.DataFrame]:
    """Run (or resume) the ImageNet-1K protocol (``ood``: extra overrides of its settings);
    records under the profile label ``<profile>-imagenet``."""
    from cibr_lab.ood.experiment import run

    label = f"{profile.label}-{IMAGENET_LABEL}"
    return run(imagenet_profile(profile, ood), device, label=label, shard=shard)


__all__ = ["imagenet_profile", "run_imagenet"]
