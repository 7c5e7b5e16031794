"""Library code for the executable textbook *Deep Recommender Systems*.

Each chapter has its own sub-package (``lessons_src.sasrec`` …); pieces that every chapter
uses — the data layer, device and seed helpers, evaluation metrics, plotting — live once in
``lessons_src.data`` and ``lessons_src.common``.
"""

__version__ = "0.1.0"
