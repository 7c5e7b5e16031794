"""What CapsNet's training step feeds the network and the decoder (Sabour et al. 2017, §4).

The paper trains on images shifted by up to 2 pixels, and the reconstruction loss compares the
decoder's output with *the image the network was given*: the shifted one. Reconstructing the
unshifted original would ask the decoder to undo a shift it cannot see.
"""

from __future__ import annotations

import torch
from synthetic import synthetic_mnist

from lessons_src.capsules import CapsNet, CapsNetConfig
from lessons_src.capsules import mnist_train
from lessons_src.capsules.mnist_train import TrainConfig


def in_dataset(rows: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """(B,) True where a row of ``rows`` (B, 784) or (B, 28, 28) is one of ``images`` (N, 28, 28) exactly."""
    known = {image.numpy().tobytes() for image in images.reshape(len(images), -1)}
    return torch.tensor([row.numpy().tobytes() in known for row in rows.reshape(len(rows), -1)])


def test_the_decoder_reconstructs_the_shifted_image_the_network_was_given(monkeypatch):
    data = synthetic_mnist(48, 8)
    torch.manual_seed(0)
    model = CapsNet(CapsNetConfig(conv_channels=8, primary_types=2, decoder_hidden=(16, 32)))
    given, targets = [], []
    model.register_forward_pre_hook(lambda module, args: given.append(args[0].clone()) if module.training else None)
    real_loss = mnist_train.capsnet_loss

    def recording_loss(output, images, labels, recon_weight):
        targets.append(images.clone())
        return real_loss(output, images, labels, recon_weight)

    monkeypatch.setattr(mnist_train, "capsnet_loss", recording_loss)
    mnist_train.train(TrainConfig(epochs=1, batch_size=16, max_shift=2, progress=False), model=model, data=data)
    assert len(given) == len(targets) == 3
    for x, target in zip(given, targets):
        assert torch.equal(x.reshape(target.shape), target)  # the target is the network's own input
    shifted = torch.cat(given).reshape(-1, 28, 28)
    assert not in_dataset(shifted, data["train_x"]).all()  # … and that input was shifted
