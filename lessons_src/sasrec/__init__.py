"""SASRec: self-attentive sequential recommendation (Kang & McAuley, ICDM 2018)."""

from .model import SASRec, SASRecConfig, attention_mask, causal_mask, load_compact_sasrec
from .sampler import BatchSampler, reference_sample

__all__ = [
    "BatchSampler", "SASRec", "SASRecConfig", "attention_mask", "causal_mask", "load_compact_sasrec", "reference_sample",
]
