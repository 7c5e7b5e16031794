"""Moved into :mod:`lessons_src.sasrec.model`; kept only while ``exercises.py`` imports from here."""

from .model import attention_mask, causal_mask

__all__ = ["attention_mask", "causal_mask"]
