"""CapsNet (Sabour et al. 2017): shapes, the decoder's masking, training, checkpoints and the CLI."""

from __future__ import annotations

import dataclasses
import json
import struct

import numpy as np
import pytest
import torch
from synthetic import synthetic_digits as shared_digits
from synthetic import synthetic_mnist

from lessons_src.capsules import CapsNet, CapsNetConfig, capsnet_loss
from lessons_src.capsules.mnist_train import (
    TrainConfig,
    count_errors,
    load_model,
    main,
    predict_lengths,
    save_model,
    train,
)
from lessons_src.data.registry import REGISTRY

TINY = {"conv_channels": 8, "primary_types": 2, "primary_dim": 4, "digit_dim": 6, "decoder_hidden": (16, 32)}


def tiny_capsnet(seed: int = 0, **overrides) -> CapsNet:
    torch.manual_seed(seed)
    return CapsNet(CapsNetConfig(**{**TINY, **overrides}))


def synthetic_digits(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The shared stand-in, with the stripe in columns 6..21."""
    return shared_digits(n, seed, slice(6, 22))


def tiny_data(n_train: int = 64, n_test: int = 40) -> dict[str, torch.Tensor]:
    return synthetic_mnist(n_train, n_test, slice(6, 22))


# -------------------------------------------------------------------------------------------- model


def test_the_paper_network_has_its_shapes_and_8_2m_parameters():
    torch.manual_seed(0)
    model = CapsNet()
    assert model.W.shape == (1152, 10, 16, 8)  # one W_ij per (primary capsule, digit) pair
    n_parameters = sum(p.numel() for p in model.parameters())
    n_decoder = sum(p.numel() for p in model.decoder.parameters())
    # "CapsNet has 8.2M parameters and 6.8M parameters without the reconstruction subnetwork"
    assert round(n_parameters / 1e6, 1) == 8.2 and round((n_parameters - n_decoder) / 1e6, 1) == 6.8
    images, labels = synthetic_digits(2, 0)
    out = model(images[:, None], labels)
    assert out.lengths.shape == (2, 10)
    assert out.digit_capsules.shape == (2, 10, 16)
    assert out.reconstruction.shape == (2, 784)
    assert out.coefficients.shape == (3, 2, 1152, 10)
    assert ((out.lengths >= 0) & (out.lengths < 1)).all()
    assert ((out.reconstruction > 0) & (out.reconstruction < 1)).all()
    torch.testing.assert_close(out.lengths, out.digit_capsules.norm(dim=-1))
    torch.testing.assert_close(out.coefficients.sum(-1), torch.ones(3, 2, 1152))


def test_images_without_a_channel_axis_give_the_same_output():
    model = tiny_capsnet().eval()
    images, _ = synthetic_digits(3, 0)
    torch.testing.assert_close(model(images).lengths, model(images[:, None]).lengths)


def decode_by_hand(model: CapsNet, digit_capsules: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    masked = torch.zeros_like(digit_capsules)
    rows = torch.arange(len(classes))
    masked[rows, classes] = digit_capsules[rows, classes]
    return model.decoder(masked.flatten(1))


def test_the_decoder_sees_the_true_class_in_training_and_the_longest_capsule_at_test():
    model = tiny_capsnet(init_std=10.0)  # capsules long enough (≈ 0.3) for the masking to matter
    images, _ = synthetic_digits(6, 0)
    with torch.no_grad():
        longest = model.eval()(images).lengths.argmax(dim=1)
        labels = (longest + 1) % 10  # never the longest capsule, so the two maskings differ
        model.train()
        trained = model(images, labels)
        torch.testing.assert_close(trained.masked_classes, labels)
        torch.testing.assert_close(trained.reconstruction, decode_by_hand(model, trained.digit_capsules, labels))
        assert not torch.allclose(trained.reconstruction, decode_by_hand(model, trained.digit_capsules, longest))
        for out in (model.eval()(images), model.eval()(images, labels), model.train()(images)):
            torch.testing.assert_close(out.masked_classes, longest)
            torch.testing.assert_close(out.reconstruction, decode_by_hand(model, out.digit_capsules, longest))


def test_reconstruct_agrees_with_forward_and_reads_only_the_chosen_capsule():
    model = tiny_capsnet(init_std=10.0).eval()
    images, _ = synthetic_digits(4, 0)
    with torch.no_grad():
        out = model(images)
        torch.testing.assert_close(model.reconstruct(out.digit_capsules, out.masked_classes), out.reconstruction)
        others = out.digit_capsules.clone()
        rows = torch.arange(4)
        keep = others[rows, out.masked_classes].clone()
        others.normal_()  # change every capsule …
        others[rows, out.masked_classes] = keep  # … but the decoded one
        torch.testing.assert_close(model.reconstruct(others, out.masked_classes), out.reconstruction)
        perturbed = out.digit_capsules.clone()
        perturbed[rows, out.masked_classes, 0] += 0.25  # Fig. 4: tweak one dimension of the decoded capsule
        assert not torch.allclose(model.reconstruct(perturbed, out.masked_classes), out.reconstruction)


def test_bad_inputs_and_configs_are_rejected_with_the_argument_named():
    model = tiny_capsnet()
    images, labels = synthetic_digits(2, 0)
    with pytest.raises(ValueError, match="images must be"):
        model(images[:, None, :14])
    with pytest.raises(ValueError, match=r"labels must be \(2,\)"):
        model(images, labels[:1])
    with pytest.raises(ValueError, match="labels must be int64"):
        model(images, labels.int())
    with pytest.raises(ValueError, match="digit_capsules must be"):
        model.reconstruct(torch.zeros(2, 10, 5), labels)
    with pytest.raises(ValueError, match="classes must be"):
        model.reconstruct(torch.zeros(2, 10, 6), labels[:, None])
    for name, value in [("conv_channels", 0), ("routing_iterations", 0), ("primary_stride", 1.5),
                        ("n_classes", 1), ("decoder_hidden", (16,)), ("recon_weight", -1.0), ("init_std", 0.0)]:
        with pytest.raises(ValueError, match=name):
            CapsNetConfig(**{**TINY, name: value})
    with pytest.raises(ValueError, match="image_size=16 is too small"):
        CapsNetConfig(image_size=16)


# ----------------------------------------------------------------------------------------- training


def test_a_few_training_steps_on_eight_images_decrease_the_loss():
    model = tiny_capsnet()
    images, labels = synthetic_digits(8, 0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(6):
        loss = capsnet_loss(model(images, labels), images, labels, model.config.recon_weight)
        optimizer.zero_grad()
        loss.total.backward()
        optimizer.step()
        losses.append(loss.total.item())
    assert losses[1] < losses[0]  # one step already helps
    assert losses[-1] < 0.75 * losses[0]
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_train_learns_and_counts_test_errors():
    data = tiny_data()
    config = TrainConfig(epochs=4, batch_size=16, lr=1e-2, max_shift=1, eval_every=2, progress=False)
    model, history = train(config, CapsNetConfig(**TINY), data)
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert history[-1]["loss"] < history[0]["loss"]
    assert [h["test_errors"] is None for h in history] == [True, False, True, False]
    assert history[-1]["test_errors"] == count_errors(model, data["test_x"], data["test_y"], batch_size=7)
    assert history[-1]["test_errors"] < 20  # of 40; chance is 36
    torch.testing.assert_close(history[1]["lr"], 1e-2 * 0.96)  # decayed once per epoch
    assert set(history[0]) >= {"loss", "margin_loss", "reconstruction_loss", "train_errors", "train_seconds"}
    assert model.training  # count_errors restored the mode


def test_training_is_reproducible_for_a_seed():
    data = tiny_data(32, 8)
    config = TrainConfig(epochs=1, batch_size=16, seed=3, progress=False)
    (_, first), (_, second) = (train(config, CapsNetConfig(**TINY), data) for _ in range(2))
    assert [h["loss"] for h in first] == [h["loss"] for h in second]


@pytest.mark.parametrize("kwargs, name", [
    ({"epochs": 0}, "epochs"), ({"batch_size": 0}, "batch_size"), ({"lr": 0.0}, "lr"),
    ({"lr_decay": 1.5}, "lr_decay"), ({"max_shift": -1}, "max_shift"), ({"train_subset": 0}, "train_subset"),
    ({"eval_every": -1}, "eval_every"),
])
def test_bad_training_settings_are_rejected(kwargs, name):
    with pytest.raises(ValueError, match=name):
        TrainConfig(**kwargs)


def test_train_refuses_a_model_and_a_model_config_together():
    with pytest.raises(ValueError, match="model_config"):
        train(TrainConfig(progress=False), CapsNetConfig(**TINY), tiny_data(), model=tiny_capsnet())


def test_saved_models_load_with_their_config(tmp_path):
    model = tiny_capsnet(decoder_hidden=(12, 24)).eval()
    images, _ = synthetic_digits(16, 0)
    exact = load_model(save_model(model, tmp_path / "full.pt", compact=False), "cpu")
    assert exact.config == model.config and not exact.training
    torch.testing.assert_close(predict_lengths(exact, images), predict_lengths(model, images), rtol=0, atol=0)
    compact = load_model(save_model(model, tmp_path / "half.pt"), "cpu")  # float16 weights
    torch.testing.assert_close(predict_lengths(compact, images), predict_lengths(model, images), rtol=0, atol=1e-3)
    assert (tmp_path / "half.pt").stat().st_size < 0.6 * (tmp_path / "full.pt").stat().st_size


# ---------------------------------------------------------------------------------------------- CLI


def write_idx(path, array: np.ndarray) -> None:
    """uint8 IDX file: 00 00 08 ndim, big-endian uint32 dimensions, the bytes."""
    path.write_bytes(bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes())


@pytest.fixture
def synthetic_mnist_mirror(tmp_path, monkeypatch):
    """A $LESSONS_DATA_DIR holding a tiny MNIST (120 training, 50 test images) of striped 'digits'."""
    folder = tmp_path / "mirror" / "mnist"
    folder.mkdir(parents=True)
    for split, prefix, n, seed in [("train", "train", 120, 0), ("test", "t10k", 50, 1)]:
        images, labels = synthetic_digits(n, seed)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", (images * 255).round().to(torch.uint8).numpy())
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels.to(torch.uint8).numpy())
    spec = REGISTRY["mnist"]
    # the real files' checksums would reject these stand-ins
    monkeypatch.setitem(REGISTRY, "mnist", dataclasses.replace(spec, members={m: None for m in spec.members}))
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path / "mirror"))
    return folder


TINY_CLI = ["--conv-channels", "8", "--primary-types", "2", "--decoder-hidden", "16", "32", "--no-progress"]


def test_cli_writes_the_results_file(synthetic_mnist_mirror, tmp_path):
    output, model_path = tmp_path / "results" / "capsules" / "run.json", tmp_path / "model.pt"
    argv = ["--epochs", "1", "--seed", "1", "--train-subset", "48", "--batch-size", "16",
            "--output", str(output), "--save-model", str(model_path), *TINY_CLI]
    report = main(argv)
    assert json.loads(output.read_text()) == report
    for key in ("command", "seed", "hardware", "torch", "config", "history", "test_errors", "test_error_percent",
                "n_test", "wall_seconds", "paper_test_error_percent", "saved_model_test_errors"):
        assert key in report, key
    assert report["command"].endswith(" ".join(argv)) and report["seed"] == 1
    assert report["n_train"] == 48 and report["n_test"] == 50  # the whole (stand-in) test set
    assert report["config"]["model"]["conv_channels"] == 8 and report["config"]["train"]["train_subset"] == 48
    assert len(report["history"]) == 1 and report["history"][0]["test_errors"] == report["test_errors"]
    assert 0 <= report["test_errors"] <= 50
    assert report["test_error_percent"] == pytest.approx(100 * report["test_errors"] / 50)
    assert load_model(model_path, "cpu").config.conv_channels == 8


@pytest.mark.parametrize("argv, name", [
    (["--epochs", "0"], "epochs"),
    (["--conv-channels", "0"], "conv_channels"),
    (["--train-subset", "0"], "train_subset"),
    (["--routing-iterations", "0"], "routing_iterations"),
])
def test_cli_rejects_bad_arguments_by_name(argv, name, tmp_path):
    with pytest.raises(ValueError, match=name):
        main([*argv, "--output", str(tmp_path / "never.json"), "--no-progress"])
    assert not (tmp_path / "never.json").exists()
