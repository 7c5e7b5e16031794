"""Capsule networks (Sabour, Frosst & Hinton, "Dynamic Routing Between Capsules", 2017).

A capsule is a group of neurons whose activity vector's length is the probability that an entity
is present and whose orientation encodes its pose. Lower capsules predict the output of higher
ones; routing by agreement couples each lower capsule to the higher capsules whose output agrees
with its prediction. ``interests`` carries the idea to recommendation (MIND, ComiRec-DR): a
user's items are routed into a few interest capsules.
"""

from .capsnet import CapsNet, CapsNetConfig, CapsNetOutput, PrimaryCaps
from .interests import InterestConfig, MultiInterestModel, MultiInterestRouter
from .losses import CapsNetLoss, capsnet_loss, margin_loss, reconstruction_loss
from .routing import Routing, dynamic_routing, squash

__all__ = [
    "CapsNet",
    "CapsNetConfig",
    "CapsNetLoss",
    "CapsNetOutput",
    "InterestConfig",
    "MultiInterestModel",
    "MultiInterestRouter",
    "PrimaryCaps",
    "Routing",
    "capsnet_loss",
    "dynamic_routing",
    "margin_loss",
    "reconstruction_loss",
    "squash",
]
