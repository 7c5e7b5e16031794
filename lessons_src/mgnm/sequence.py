"""Time order for the routing (MGNM's sequential capsule network): a BiLSTM reads, position by
position, the routing predictions û of one user's history and returns a correction of the same
shape; the routing adds it to û when it updates its logits (``capsules.interests``):

    h_1 … h_L = BiLSTM(û_1 … û_L),   û_i ∈ R^{K·d} (the K predictions of item i, concatenated)
    ũ_{j|i} = û_{j|i} + (W h_i)_j                    (B, L, K, d)

Histories are left-padded; the LSTM runs over each user's real items only (packed sequences), so
the amount of padding changes nothing.

The public code's version (``public_code_reshape=True``) reshapes the (B, K, L, d) predictions to
(B, L, K·d) without moving the axes back, and reads the time-major output of a static BiLSTM
(L, B, 2h) as if it were batch-major (B, L, 2h): positions of one user then receive the states of
other users' sequences. Kept as a switch to measure what it costs (padding is not packed there).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def left_to_right_padding(x: Tensor, real: Tensor) -> Tensor:
    """Move each row's real positions (at the end, left padding) to the front: (B, L, ...) → same.

    Applying it to the right-padded result with the same ``real`` flipped end for end undoes it;
    ``right_to_left_padding`` does that."""
    length = real.sum(1)  # (B,)
    L = x.shape[1]
    positions = torch.arange(L, device=x.device)
    source = (positions.unsqueeze(0) + (L - length).unsqueeze(1)) % L  # (B, L)
    return x.gather(1, source.view(*source.shape, *([1] * (x.dim() - 2))).expand_as(x))


def right_to_left_padding(x: Tensor, real: Tensor) -> Tensor:
    """Inverse of ``left_to_right_padding``."""
    length = real.sum(1)
    L = x.shape[1]
    positions = torch.arange(L, device=x.device)
    source = (positions.unsqueeze(0) - (L - length).unsqueeze(1)) % L
    return x.gather(1, source.view(*source.shape, *([1] * (x.dim() - 2))).expand_as(x))


class TimeOrderEncoder(nn.Module):
    def __init__(self, hidden: int, n_interests: int, public_code_reshape: bool = False):
        super().__init__()
        self.hidden, self.n_interests = hidden, n_interests
        self.public_code_reshape = public_code_reshape
        # one LSTM per direction with d units, over the K·d predictions of each position
        self.lstm = nn.LSTM(n_interests * hidden, hidden, batch_first=True, bidirectional=True)
        self.project = nn.Linear(2 * hidden, n_interests * hidden, bias=False)  # W

    def forward(self, u_hat: Tensor, real: Tensor) -> Tensor:
        """û (B, L, K, d), real (B, L) bool → the correction (W h)_j (B, L, K, d), 0 on padding."""
        B, L, K, d = u_hat.shape
        if self.public_code_reshape:
            return self._public_code(u_hat)
        flat = u_hat.reshape(B, L, K * d)  # position i's K predictions side by side
        lengths = real.sum(1)
        if bool((lengths == 0).any()):
            raise ValueError("every history needs at least one item (a row is all padding)")
        packed = pack_padded_sequence(left_to_right_padding(flat, real), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        states, _ = self.lstm(packed)
        states, _ = pad_packed_sequence(states, batch_first=True, total_length=L)  # (B, L, 2d), right-padded
        states = right_to_left_padding(states, real)
        correction = self.project(states).reshape(B, L, K, d)
        return correction * real.view(B, L, 1, 1).to(correction.dtype)

    def _public_code(self, u_hat: Tensor) -> Tensor:
        """The public code's axes: (B, K, L, d) read as (B, L, K·d); time-major states read as batch-major."""
        B, L, K, d = u_hat.shape
        as_stored = u_hat.permute(0, 2, 1, 3)  # (B, K, L, d): the public code's layout
        mixed = as_stored.reshape(B, L, K * d)  # no transpose back: K and L interleave
        states, _ = self.lstm(mixed)  # (B, L, 2d)
        time_major = states.transpose(0, 1).reshape(L * B, 2 * d)  # concat of the L outputs
        read_as_batch_major = time_major.reshape(B, L, 2 * d)  # rows now come from other users
        correction = self.project(read_as_batch_major)  # (B, L, K·d)
        return correction.reshape(B, K, L, d).permute(0, 2, 1, 3)  # back to (B, L, K, d), axes mixed again
