"""Chapter 6 — PMGT (Liu et al., ACM MM 2021): pre-training a graph transformer on item side information.

- :mod:`.graph` — the weighted item graph of an early period (co-interaction counts, the paper's weight);
- :mod:`.sampling` — MCNSampling: an item's contextual neighbours, hop-weighted, centre excluded;
- :mod:`.model` — modality fusion gate, position embeddings, the Transformer with diversity attention;
- :mod:`.masking` — 80/10/10 masking of context nodes, targets read before replacement;
- :mod:`.losses` — graph-structure reconstruction and masked node-feature reconstruction;
- :mod:`.pretrain` — pre-training through the book's training loop, deterministic export.
"""
