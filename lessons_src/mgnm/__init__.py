"""Chapter 5 — MGNM (Tian et al., SIGIR 2022): multi-level graph convolution over a user's history,
then multi-interest routing per level with the order of the history fed back into the routing.

- ``graph``: the item graph of one history — user-aware or plain edge weights, padding masked,
  optional sparsification, the symmetric normalisation and the L1 term on the adjacency;
- ``gcn``: the multi-level graph convolution X⁽ˡ⁺¹⁾ = σ(Â X⁽ˡ⁾ W⁽ˡ⁾), with the public code's
  non-iterative (and shared-weight) forms as switches;
- ``sequence``: the BiLSTM that reads each user's routing predictions in time order, with the
  public code's reshapes as a switch;
- ``model``: MGNM assembled — the graph levels, chapter 3's routing per level with the time-order
  correction, the label-aware objective summed over levels plus the L1 term, serving by the max
  over levels × interests;
- ``train``: the training CLI on the toolkit, under the leave-one-out or the time-ordered protocol;
- ``widgets``: kernel-free views of one user's graph, levels and routing; ``exercises``: checkers.

The routing itself is chapter 3's (``capsules.interests.MultiInterestRouter``), which takes the
BiLSTM as its ``sequence_residual``; the time-ordered evaluation is ``evaluation.instances``.
"""
