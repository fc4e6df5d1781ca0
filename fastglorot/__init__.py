"""fastglorot: counter-based (Philox4x32-10) parallel weight initialization.

Every output element is a pure function of ``(seed, stream, element index)``:
results do not depend on thread count, chunking, slicing or memory layout.
Importing the package compiles nothing; kernels compile on first use and are
cached on disk.

Compatibility guarantee: the values are defined by the stream formats
(:data:`STREAM_FORMATS`, default :data:`STREAM_FORMAT`; README "Stream
format"); the same arguments and format give the same bits in every future
version.  ``stream_format=2`` (or ``with stream_format(2):``) chooses the
faster float32 normal and truncated normal of format 2.
"""

from ._api.arguments import DISTRIBUTIONS, LAYOUTS, MODES, NONLINEARITIES, Distribution, Layout, Mode, Nonlinearity
from ._api.fans import calculate_gain, compute_fans
from ._api.generated import (
    glorot_normal,
    glorot_normal_,
    glorot_uniform,
    glorot_uniform_,
    he_normal,
    he_normal_,
    he_uniform,
    he_uniform_,
    kaiming_normal,
    kaiming_normal_,
    kaiming_uniform,
    kaiming_uniform_,
    lecun_normal,
    lecun_normal_,
    lecun_uniform,
    lecun_uniform_,
    normal,
    trunc_normal,
    uniform,
    variance_scaling,
    variance_scaling_,
    xavier_normal,
    xavier_normal_,
    xavier_uniform,
    xavier_uniform_,
)
from ._api.generator import Generator
from ._format.philox import philox4x32
from ._api.registry import INITIALIZERS, Initializer, get_initializer
from ._api.sampling import normal_, random_bits, trunc_normal_, uniform_
from ._api.stream_format import STREAM_FORMATS, get_stream_format, stream_format
from ._format.seeding import stream_id
from ._engines.warmup import warmup

__version__ = "0.6.0"

STREAM_FORMAT = 1
"""The default stream format (README "Stream format"): a compatibility
guarantee, changed only by an announced, versioned change.  :data:`STREAM_FORMATS`
lists every format; ``stream_format=`` and :func:`stream_format` choose one."""

__all__ = [
    "DISTRIBUTIONS",
    "Distribution",
    "Generator",
    "INITIALIZERS",
    "Initializer",
    "LAYOUTS",
    "Layout",
    "MODES",
    "Mode",
    "NONLINEARITIES",
    "Nonlinearity",
    "STREAM_FORMAT",
    "STREAM_FORMATS",
    "calculate_gain",
    "compute_fans",
    "get_initializer",
    "get_stream_format",
    "glorot_normal",
    "glorot_normal_",
    "glorot_uniform",
    "glorot_uniform_",
    "he_normal",
    "he_normal_",
    "he_uniform",
    "he_uniform_",
    "kaiming_normal",
    "kaiming_normal_",
    "kaiming_uniform",
    "kaiming_uniform_",
    "lecun_normal",
    "lecun_normal_",
    "lecun_uniform",
    "lecun_uniform_",
    "normal",
    "normal_",
    "philox4x32",
    "random_bits",
    "stream_format",
    "stream_id",
    "trunc_normal",
    "trunc_normal_",
    "uniform",
    "uniform_",
    "variance_scaling",
    "variance_scaling_",
    "warmup",
    "xavier_normal",
    "xavier_normal_",
    "xavier_uniform",
    "xavier_uniform_",
    "__version__",
]
