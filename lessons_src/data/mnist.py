"""MNIST from its IDX files: ``load_mnist("train")`` → uint8 images (N, 28, 28), int64 labels (N,).

IDX layout (LeCun's format, all integers big-endian):

    bytes 0–1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    4·d bytes   the dimensions, uint32 each
    the rest    the elements, row-major, big-endian

so MNIST's images start with the magic number 0x00000803 (uint8, 3-d) and its labels with 0x00000801
(uint8, 1-d).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .fetch import DataError, dataset_path

IMAGES_MAGIC = 0x00000803  # uint8, (N, rows, cols)
LABELS_MAGIC = 0x00000801  # uint8, (N,)

_IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: str | Path, magic: int | None = None) -> np.ndarray:
    """Parse one IDX file into an array of its shape, in native byte order.

    ``magic``, if given, is the magic number the file must start with (``IMAGES_MAGIC``,
    ``LABELS_MAGIC``). Raises :class:`DataError` naming the file for a bad magic number, an unknown
    element type, or a payload that is shorter or longer than the header's dimensions promise.
    """
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) < 4:
        raise DataError(f"{path}: {len(raw)} bytes, too short for an IDX header (truncated file?)")
    found = int.from_bytes(raw[:4], "big")
    if raw[0] != 0 or raw[1] != 0 or (magic is not None and found != magic):
        wanted = f"0x{magic:08X}" if magic is not None else "0x0000TTDD"
        raise DataError(f"{path}: bad magic number 0x{found:08X}, expected {wanted}; not an IDX file of this kind")
    type_code, n_dims = raw[2], raw[3]
    if type_code not in _IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_TYPES)
        raise DataError(f"{path}: unknown IDX element type 0x{type_code:02X} (known: {known})")
    dtype = _IDX_TYPES[type_code]
    header = 4 + 4 * n_dims
    if len(raw) < header:
        raise DataError(f"{path}: header promises {n_dims} dimensions but the file ends after {len(raw)} bytes")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=n_dims, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(raw) - header
    if actual != expected:
        problem = "truncated" if actual < expected else "has trailing bytes"
        raise DataError(
            f"{path}: payload {problem}: dimensions {shape} of {dtype.name} need {expected} bytes, "
            f"found {actual}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def load_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST's ``"train"`` (60 000) or ``"test"`` (10 000) split.

    Returns ``images`` uint8 (N, 28, 28), 0 = background, 255 = ink, and ``labels`` int64 (N,) in 0..9.
    """
    if split not in _FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    folder = dataset_path("mnist")
    images_file, labels_file = (folder / name for name in _FILES[split])
    images = read_idx(images_file, IMAGES_MAGIC)  # (N, 28, 28) uint8
    labels = read_idx(labels_file, LABELS_MAGIC).astype(np.int64)  # (N,)
    if images.shape[1:] != (28, 28):
        raise DataError(f"{images_file}: images are {images.shape[1:]}, expected (28, 28)")
    if len(images) != len(labels):
        raise DataError(f"{images_file} holds {len(images)} images but {labels_file} {len(labels)} labels")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{labels_file}: labels must lie in 0..9, found {labels.min()}..{labels.max()}")
    return images, labels


def mnist_tensors(device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """Images as float (N, 28, 28) in [0, 1] and labels (N,), for both splits, on ``device``."""
    out = {}
    for split in ("train", "test"):
        images, labels = load_mnist(split)
        out[f"{split}_x"] = torch.as_tensor(images, device=device).float() / 255.0
        out[f"{split}_y"] = torch.as_tensor(labels, device=device)
    return out
