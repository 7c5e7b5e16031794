"""Running one training on N processes (``torchrun --nproc_per_node=N``) with DistributedDataParallel.

torchrun starts N copies of the same command and tells each its place through the environment
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``). Without those variables we are a plain run of one
process and nothing here does anything. With them:

* every rank builds the same model from the same seed, then DDP averages the gradients after
  each backward pass, so all ranks take the same optimizer step;
* every rank draws its *own* examples from its own random stream (:func:`stream_seed`);
* ``--batch-size`` stays the number of examples per optimizer step: each rank takes
  ``batch_size / world_size`` of them (:func:`per_rank_batch_size`), so a step on 2 ranks × B/2
  examples equals a step on 1 rank × B examples when the loss is a per-example mean;
* evaluation, checkpoints and the run report happen once, on rank 0, while the others wait.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def world_from_env() -> World:
    """Rank, world size and local rank that torchrun set; a single process without them."""
    return World(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                 int(os.environ.get("LOCAL_RANK", 0)))


def setup(device: torch.device) -> tuple[World, torch.device]:
    """Join the process group (gloo on CPU, NCCL on CUDA) when torchrun started us.

    Returns the world and the device this rank trains on (``cuda:LOCAL_RANK`` for CUDA).
    """
    world = world_from_env()
    if not world.distributed:
        return world, device
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return world, device


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def current_world() -> World:
    """The world of the initialised process group, or a single process."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    return World()


def stream_seed(seed: int, rank: int) -> int:
    """The seed of rank ``rank``'s own random stream; rank 0 keeps ``seed`` (a plain run is unchanged)."""
    return seed + 1_000_003 * rank


def per_rank_batch_size(batch_size: int, world_size: int) -> int:
    """Each rank's share of a step's ``batch_size`` examples."""
    if batch_size % world_size:
        raise ValueError(f"batch_size {batch_size} must be a multiple of the world size {world_size}")
    return batch_size // world_size


def barrier() -> None:
    if current_world().distributed:
        dist.barrier()


def from_main(value):
    """Rank 0's ``value`` on every rank (a picklable object); the value itself in a plain run."""
    if not current_world().distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_to_all(value) -> list:
    """``[value of rank 0, value of rank 1, …]`` on every rank."""
    world = current_world()
    if not world.distributed:
        return [value]
    out = [None] * world.world_size
    dist.all_gather_object(out, value)
    return out


def mean_over_ranks(tensor: torch.Tensor) -> torch.Tensor:
    """The element-wise mean of ``tensor`` over the ranks (``tensor`` itself in a plain run)."""
    world = current_world()
    if not world.distributed:
        return tensor
    tensor = tensor.clone()
    dist.all_reduce(tensor)
    return tensor / world.world_size


def require_single_process(what: str) -> None:
    """Refuse to run ``what`` under torchrun with several processes (each would repeat the same work)."""
    if world_from_env().distributed:
        raise SystemExit(f"{what} runs on one process; start it without torchrun (or with --nproc_per_node=1)")
