"""fastglorot: counter-based (Philox4x32-10) parallel weight initialization.

Every output element is a pure function of ``(seed, stream, element index)``:
results do not depend on thread count, chunking, slicing or memory layout.
Importing the package compiles nothing; kernels compile on first use and are
cached on disk.
"""

from ._philox import philox4x32
from ._sampling import normal_, random_bits, uniform_

__version__ = "0.1.0"

__all__ = ["philox4x32", "random_bits", "uniform_", "normal_", "__version__"]
