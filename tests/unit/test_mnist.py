"""Reading MNIST's IDX files."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from lessons_src.data import load_mnist
from lessons_src.data.fetch import DataError
from lessons_src.data.mnist import IMAGES_MAGIC, LABELS_MAGIC, read_idx


def write_idx(path, array: np.ndarray, type_code: int = 0x08, magic: bytes | None = None, cut: int = 0) -> None:
    """An IDX file: magic (00 00 type ndim), big-endian uint32 dims, big-endian payload (minus ``cut`` bytes)."""
    header = magic if magic is not None else bytes([0, 0, type_code, array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    payload = array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(header + payload[: len(payload) - cut])


def test_reads_images_and_labels(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    labels = np.array([7, 0, 9], dtype=np.uint8)
    write_idx(tmp_path / "images", images)
    write_idx(tmp_path / "labels", labels)
    read_images = read_idx(tmp_path / "images", IMAGES_MAGIC)
    assert read_images.dtype == np.uint8 and read_images.shape == (2, 3, 4)
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_idx(tmp_path / "labels", LABELS_MAGIC), labels)


def test_multibyte_elements_are_big_endian(tmp_path):
    values = np.array([[1, -2], [300, 70000]], dtype=np.int32)
    write_idx(tmp_path / "ints", values, type_code=0x0C)
    read = read_idx(tmp_path / "ints")
    np.testing.assert_array_equal(read, values)
    assert read.dtype.isnative


def test_bad_magic_names_the_file(tmp_path):
    labels = np.array([1, 2, 3], dtype=np.uint8)
    write_idx(tmp_path / "not-idx", labels, magic=b"\x1f\x8b\x08\x01")  # a gzip file's first bytes
    with pytest.raises(DataError, match="not-idx.*magic"):
        read_idx(tmp_path / "not-idx")
    # a valid IDX file of the wrong kind: labels where images are expected
    write_idx(tmp_path / "labels", labels)
    with pytest.raises(DataError, match="labels.*magic.*0x00000801.*0x00000803"):
        read_idx(tmp_path / "labels", IMAGES_MAGIC)


def test_unknown_element_type_names_the_file(tmp_path):
    write_idx(tmp_path / "odd", np.zeros(3, dtype=np.uint8), type_code=0x07)
    with pytest.raises(DataError, match="odd.*element type 0x07"):
        read_idx(tmp_path / "odd")


def test_truncated_payload_names_the_file(tmp_path):
    write_idx(tmp_path / "images", np.zeros((2, 3, 4), dtype=np.uint8), cut=5)
    with pytest.raises(DataError, match="images.*truncated.*24 bytes, found 19"):
        read_idx(tmp_path / "images", IMAGES_MAGIC)
    (tmp_path / "stub").write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match="stub"):
        read_idx(tmp_path / "stub")
    (tmp_path / "header").write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">I", 2))  # 1 of 3 dims
    with pytest.raises(DataError, match="header.*3 dimensions"):
        read_idx(tmp_path / "header")


def test_trailing_bytes_are_an_error(tmp_path):
    write_idx(tmp_path / "labels", np.zeros(3, dtype=np.uint8))
    with open(tmp_path / "labels", "ab") as handle:
        handle.write(b"\x00")
    with pytest.raises(DataError, match="labels.*trailing"):
        read_idx(tmp_path / "labels")


def test_load_mnist_rejects_an_unknown_split():
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation")


@pytest.mark.parametrize("split, n", [("train", 60_000), ("test", 10_000)])
def test_real_mnist(real_data_dir, monkeypatch, split, n):
    monkeypatch.setenv("LESSONS_DATA_DIR", str(real_data_dir))
    images, labels = load_mnist(split)
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert labels.min() == 0 and labels.max() == 9
    counts = np.bincount(labels, minlength=10)
    assert counts.min() > 0.08 * n and counts.max() < 0.12 * n  # each digit is 9–11 % of MNIST
    assert images.max() == 255 and images.min() == 0
    ink = (images > 0).mean()
    assert 0.1 < ink < 0.3  # about a fifth of the pixels carry ink
