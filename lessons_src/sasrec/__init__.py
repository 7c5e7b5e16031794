"""SASRec: self-attentive sequential recommendation (Kang & McAuley, ICDM 2018)."""

from .attention import attention_mask, causal_mask
from .model import SASRec, SASRecConfig
from .sampler import BatchSampler, reference_sample

__all__ = ["BatchSampler", "SASRec", "SASRecConfig", "attention_mask", "causal_mask", "reference_sample"]
