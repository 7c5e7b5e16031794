"""The data layer shared by every chapter.

``load_interactions("games")`` returns per-user item sequences, and ``sequential_split`` turns them
into SASRec's leave-last-two-out split; ``load_mnist("train")`` returns MNIST's images and labels.
Files are looked up, in order, in the directory named by ``$LESSONS_DATA_DIR``, in the user cache
directory, and finally downloaded (checksummed, atomic).
"""

from .fetch import DATA_DIR_ENV, DataError, cache_dir, dataset_path
from .mnist import load_mnist
from .registry import REGISTRY, DatasetSpec
from .sequences import Interactions, load_interactions
from .split import ChronologicalSplit, SequentialSplit, sequential_split, time_ordered_split

__all__ = [
    "DATA_DIR_ENV",
    "DataError",
    "DatasetSpec",
    "Interactions",
    "REGISTRY",
    "ChronologicalSplit",
    "SequentialSplit",
    "cache_dir",
    "dataset_path",
    "load_interactions",
    "load_mnist",
    "sequential_split",
    "time_ordered_split",
]
