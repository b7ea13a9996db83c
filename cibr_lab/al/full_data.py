"""Full-profile readers of the on-disk formats that torchvision and openml leave behind.

Nothing here downloads. A missing file is a ``FileNotFoundError`` naming the expected path and
the command that fetches it. Roots are under :func:`cibr_lab.runtime.data_dir` (override with
``CIBR_LAB_DATA``).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from cibr_lab.al.split import Split
from cibr_lab.errors import MissingDataError
from cibr_lab.runtime import data_dir


def _require(path: Path, fetch: str) -> Path:
    if not path.exists():
        raise MissingDataError(f"expected {path} (missing); fetch it once with: {fetch}")
    return path


def cifar10(root: Path | None = None) -> Split:
    """CIFAR-10 from ``<root>/cifar-10-batches-py`` (torchvision's layout): ``[N, 3, 32, 32]``."""
    root = Path(root) if root is not None else data_dir()
    folder = root / "cifar-10-batches-py"
    fetch = (
        f"python -c \"import torchvision; torchvision.datasets.CIFAR10('{root}', download=True)\""
    )

    def read(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for name in names:
            with open(_require(folder / name, fetch), "rb") as fh:
                batch = pickle.load(fh, encoding="latin1")
            xs.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(batch["labels"], dtype=np.int64))
        return (np.concatenate(xs) / np.float32(255)).astype(np.float32), np.concatenate(ys)

    x, y = read([f"data_batch_{i}" for i in range(1, 6)])
    x_test, y_test = read(["test_batch"])
    return Split(x, y, x_test, y_test)


def svhn(root: Path | None = None) -> Split:
    """SVHN from ``<root>/svhn/{train,test}_32x32.mat`` (torchvision's layout); label 10 -> 0."""
    from scipy.io import loadmat

    folder = (Path(root) if root is not None else data_dir()) / "svhn"

    def read(split: str) -> tuple[np.ndarray, np.ndarray]:
        fetch = (
            'python -c "import torchvision; '
            f"torchvision.datasets.SVHN('{folder}', split='{split}', download=True)\""
        )
        mat = loadmat(_require(folder / f"{split}_32x32.mat", fetch))
        x = (np.transpose(mat["X"], (3, 2, 0, 1)) / np.float32(255)).astype(np.float32)
        return x, (mat["y"].reshape(-1).astype(np.int64) % 10)

    x, y = read("train")
    x_test, y_test = read("test")
    return Split(x, y, x_test, y_test)


def _encode(column: np.ndarray) -> np.ndarray:
    """Numeric columns as float; nominal (text/bytes) columns as category codes."""
    try:
        return column.astype(np.float32)
    except ValueError:
        values = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in column])
        return np.unique(values, return_inverse=True)[1].astype(np.float32)


def openml(dataset_id: int, root: Path | None = None) -> Split:
    """OpenML dataset ``<root>/openml/<id>/dataset.arff`` or ``dataset.csv``; last column = target.

    6 is *letter* (16 features, 26 classes), 155 is *pokerhand* (10 features, 10 classes).
    Nominal features become category codes; the target becomes ``0..C-1`` in sorted order.
    """
    import pandas as pd
    from scipy.io import arff

    folder = (Path(root) if root is not None else data_dir()) / "openml" / str(dataset_id)
    csv, arff_path = folder / "dataset.csv", folder / "dataset.arff"
    if arff_path.exists():
        data, _ = arff.loadarff(arff_path)
        table = pd.DataFrame(data)
    else:
        fetch = (
            f'python -c "import openml; d = openml.datasets.get_dataset({dataset_id}); '
            "X, y, _, _ = d.get_data(target=d.default_target_attribute); "
            f"X.assign(target=y).to_csv('{csv}', index=False)\""
        )
        table = pd.read_csv(_require(csv, fetch))
    columns = [_encode(table[c].to_numpy()) for c in table.columns]
    x = np.stack(columns[:-1], axis=1)
    target = table[table.columns[-1]].to_numpy()
    labels = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in target])
    y = np.unique(labels, return_inverse=True)[1].astype(np.int64)
    return Split(x, y)
