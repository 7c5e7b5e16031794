"""Which datasets exist, where they come from, and how to check them.

Each entry names the files a dataset consists of (``members``) with their sha256, and how to get
them from the canonical source: one plain file, a zip archive, or gzip-compressed files. Archives
are checked against the digest their publisher gives (GroupLens and the MNIST mirror publish
md5), the extracted files against sha256.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Source:
    """One download: ``url`` with its published digest ``(algorithm, hexdigest)``."""

    url: str
    digest: tuple[str, str] | None
    kind: str = "file"  # "file" | "zip" | "gzip"
    member: str | None = None  # for "file" and "gzip": which member this download produces
    archive_prefix: str = ""  # for "zip": folder inside the archive that holds the members
    # for "zip": the dataset subfolder this archive fills; it provides only the members under it
    # (MIND ships train and dev as two zips with the same file names at their roots)
    extract_to: str = ""


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: its files (relative path → sha256 or None if unpublished) and sources."""

    name: str
    members: dict[str, str | None]
    sources: tuple[Source, ...]
    description: str = ""
    homepage: str = ""
    extra: dict = field(default_factory=dict)


_SASREC_RAW = "https://raw.githubusercontent.com/kang205/SASRec/master/data"
_MNIST = "https://ossci-datasets.s3.amazonaws.com/mnist"
_MIND = "https://mind201910small.blob.core.windows.net/release"
_S3REC_RAW = "https://raw.githubusercontent.com/RUCAIBox/CIKM2020-S3Rec/master/data"
_S3REC_TOYS = {  # the files of the S3-Rec "Toys_and_Games" set used here, with their sha256
    "Toys_and_Games.txt": "176c680c688d497598c4a89a03b402c0fe78d795e5db335c2e78dd5f2d778a3f",
    "Toys_and_Games_item2attributes.json": "d371acd25101eedac04afc727626464b7acec770c4eda708705d51eb76eb1ad0",
}

REGISTRY: dict[str, DatasetSpec] = {
    "games": DatasetSpec(
        name="games",
        members={"Video.txt": "b7376fe24430743f411dc7f567285657b2adb3f74361cc7ba0aee94f3024b651"},
        sources=(
            Source(
                f"{_SASREC_RAW}/Video.txt",
                ("sha256", "b7376fe24430743f411dc7f567285657b2adb3f74361cc7ba0aee94f3024b651"),
                member="Video.txt",
            ),
        ),
        description="Amazon Video Games as preprocessed by the SASRec authors (lines 'user item').",
        homepage="https://github.com/kang205/SASRec",
    ),
    "ml-100k": DatasetSpec(
        name="ml-100k",
        members={
            "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
            "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
            "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
            "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
        },
        sources=(
            Source(
                "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
                ("md5", "0e33842e24a9c977be4e0107933c0723"),
                kind="zip",
                archive_prefix="ml-100k/",
            ),
        ),
        description="MovieLens 100K ratings (user\\titem\\trating\\ttimestamp).",
        homepage="https://grouplens.org/datasets/movielens/100k/",
    ),
    "ml-1m": DatasetSpec(
        name="ml-1m",
        members={"ratings.dat": None, "movies.dat": None, "users.dat": None},
        sources=(
            Source(
                "https://files.grouplens.org/datasets/movielens/ml-1m.zip",
                ("md5", "c4d9eecfca2ab87c1945afe126590906"),
                kind="zip",
                archive_prefix="ml-1m/",
            ),
        ),
        description="MovieLens 1M ratings (user::movie::rating::timestamp).",
        homepage="https://grouplens.org/datasets/movielens/1m/",
    ),
    "mnist": DatasetSpec(
        name="mnist",
        members={
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        sources=tuple(
            Source(f"{_MNIST}/{name}.gz", ("md5", md5), kind="gzip", member=name)
            for name, md5 in [
                ("train-images-idx3-ubyte", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                ("train-labels-idx1-ubyte", "d53e105ee54ea40749a09fcbcd1e9432"),
                ("t10k-images-idx3-ubyte", "9fb629c4189551a2d022fa330f9573f3"),
                ("t10k-labels-idx1-ubyte", "ec29112dd5afa0611ce80d1b7f02629c"),
            ]
        ),
        description="MNIST handwritten digits, uncompressed IDX files.",
        homepage="https://yann.lecun.com/exdb/mnist/",
    ),
    "s3rec": DatasetSpec(
        name="s3rec",
        members=dict(_S3REC_TOYS),
        sources=tuple(Source(f"{_S3REC_RAW}/{name}", ("sha256", sha), member=name) for name, sha in _S3REC_TOYS.items()),
        description="Amazon sets as preprocessed for S3-Rec (CIKM 2020): lines 'user item item ...' in time "
        "order, and item -> attribute ids. Registered: Toys_and_Games (the loader's name 'toys').",
        homepage="https://github.com/RUCAIBox/CIKM2020-S3Rec",
    ),
    "mind-small": DatasetSpec(
        name="mind-small",
        members={f"{split}/{name}": None for split in ("train", "dev") for name in ("news.tsv", "behaviors.tsv")},
        # Microsoft publishes no digests; these md5 are the ones other projects recorded (the dev
        # zip's in two independent ones). A mismatch means another release: put the extracted
        # files into $LESSONS_DATA_DIR/mind-small/{train,dev}/ by hand.
        sources=(
            Source(
                f"{_MIND}/MINDsmall_train.zip",
                ("md5", "8ab752c7d11564622d93132be05dcf6b"),
                kind="zip",
                extract_to="train/",
            ),
            Source(
                f"{_MIND}/MINDsmall_dev.zip",
                ("md5", "e3bac5485be8fc7a9934e85e3b78615f"),
                kind="zip",
                extract_to="dev/",
            ),
        ),
        description="MIND-small news recommendation logs (news.tsv, behaviors.tsv; no images). "
        "Microsoft Research License Terms: no redistribution.",
        homepage="https://msnews.github.io/",
    ),
}


def get_spec(name: str) -> DatasetSpec:
    """The registry entry for ``name``, or a ``KeyError`` listing the known datasets."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise KeyError(f"unknown dataset {name!r}; known datasets: {known}") from None
