"""What lets an outside body check Vigil: the public camera register, the transparency report
and the witnessing of audit checkpoints."""
