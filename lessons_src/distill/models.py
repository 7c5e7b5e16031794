"""The MNIST teacher and student of Hinton et al. 2015 (§3); the teacher's input jitter is
:func:`lessons_src.layers.augment.jitter` (re-exported here).

    teacher = MLP([784, 1200, 1200, 10], dropout=0.5, input_dropout=0.2)   # trained on jittered images
    student = MLP([784, 800, 800, 10])                                     # no regularisation
"""

from __future__ import annotations

from torch import Tensor, nn

from ..layers.augment import jitter
from ..layers.dropout import ByteDropout

__all__ = ["MLP", "jitter"]


class MLP(nn.Module):
    """Fully connected ReLU network returning logits.

    ``sizes`` = [input, hidden…, classes]. ``input_dropout`` drops input pixels, ``dropout`` hidden
    units (after each ReLU), as in Hinton et al. 2012's dropout nets. Input (B, …) is flattened to
    (B, sizes[0]); output is (B, sizes[-1]) logits, no softmax.
    """

    def __init__(self, sizes: list[int], dropout: float = 0.0, input_dropout: float = 0.0):
        super().__init__()
        if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
            raise ValueError(f"sizes must list ≥ 2 positive layer widths (input … classes), got {sizes}")
        for name, p in (("dropout", dropout), ("input_dropout", input_dropout)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must lie in [0, 1), got {p}")
        self.sizes = [int(s) for s in sizes]
        layers: list[nn.Module] = [ByteDropout(input_dropout)] if input_dropout > 0 else []
        for i, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(self.sizes) - 2:  # hidden layer: ReLU, then dropout
                layers.append(nn.ReLU())
                if dropout > 0:
                    layers.append(ByteDropout(dropout))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = x.flatten(1)  # (B, 28, 28) → (B, 784)
        if x.shape[1] != self.sizes[0]:
            raise ValueError(f"expected {self.sizes[0]} input features, got {x.shape[1]}")
        return self.net(x)  # (B, classes)
