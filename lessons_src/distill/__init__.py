"""Knowledge distillation (Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network", 2015).

A big, regularised teacher is trained on MNIST; a smaller student learns from the teacher's
softened outputs softmax(v/T) as well as from the true labels.
"""

from .losses import distillation_loss, logit_matching_loss, soften, study_notes_loss
from .models import MLP, jitter

__all__ = ["MLP", "distillation_loss", "jitter", "logit_matching_loss", "soften", "study_notes_loss"]
