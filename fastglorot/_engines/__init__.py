"""How a fill runs: numba CPU tiles, NumPy chunks, CUDA grid-stride; compile policy, launch, memory, warmup."""
