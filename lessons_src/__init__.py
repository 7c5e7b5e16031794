"""Library code for the executable textbook *Deep Recommender Systems*.

Each chapter has its own sub-package (``lessons_src.sasrec`` …); pieces that every chapter
uses live once, each in a package named for its job: ``data`` (download, verify, parse, split),
``evaluation`` (metrics, negatives, ranking protocols, baselines), ``training`` (the training
toolkit: seeds, devices, loop, checkpoints, run reports), ``layers`` (shared building blocks),
``viz`` (plots and kernel-free widgets) and ``course`` (exercise checkers).
"""

__version__ = "0.1.0"
