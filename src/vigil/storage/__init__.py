"""The segment index, the on-disk layout, reconciliation and retention."""
