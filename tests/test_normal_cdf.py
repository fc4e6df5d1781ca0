"""The platform-independent normal CDF behind truncated-normal parameters."""

import math

import numpy as np
import pytest

from fastglorot._format import constants as _constants, normal_cdf as _normal_cdf, stream_v1 as _mathfuncs
from fastglorot._format.normal_cdf import _exp, normal_cdf

mpmath = pytest.importorskip("mpmath")
mpmath.mp.dps = 40

POINTS = [-37.5, -37.26, -30.1, -20.0, -10.5, -5.0, -2.0000001, -2.0, -1.9999999, -1.0, -1e-3, 0.0,
          1e-300, 0.3, 1.0, 1.9999999, 2.0, 3.0, 8.0, 37.5]


@pytest.mark.parametrize("x", POINTS)
def test_accurate_against_mpmath(x):
    """~1e-16 in the tails; up to ~1e-14 where 0.5 + phi*S cancels (x near -2)."""
    exact = mpmath.ncdf(x)
    assert abs(normal_cdf(x) - exact) <= 2e-14 * exact


def test_tails_are_symmetric():
    for x in np.linspace(0, 6, 301):
        assert abs(normal_cdf(-x) - (1 - normal_cdf(x))) <= 3e-16


def test_exp_against_mpmath():
    for x in np.linspace(-708, 0, 997):  # normal float64 results
        assert abs(_exp(x) - mpmath.exp(x)) <= 2.5e-16 * mpmath.exp(x)


def test_pinned_values():
    """Exact bits (stream format v1 truncated-normal parameters depend on them)."""
    assert normal_cdf(-2.0).hex() == "0x1.74bcf82c9d860p-6"
    assert normal_cdf(2.0).hex() == "0x1.f45a183e9b13dp-1"
    assert normal_cdf(-37.5).hex() == "0x1.08eda98086fd1p-1021"


def test_shared_ln2_splits_keep_their_bits():
    """The ln 2 splits now come from ``_format.constants``; the values each user had before, exactly."""
    assert _normal_cdf._LN2_HI.hex() == "0x1.62e42fee00000p-1"  # 6.93147180369123816490e-01
    assert _normal_cdf._LN2_LO.hex() == "0x1.a39ef35793c76p-33"  # 1.90821492927058770002e-10
    assert _mathfuncs._LN2_HI.dtype == np.float64 and _mathfuncs._LN2_LO.dtype == np.float64
    assert float(_mathfuncs._LN2_HI).hex() == "0x1.62e42fee00000p-1"
    assert float(_mathfuncs._LN2_LO).hex() == "0x1.a39ef00000000p-33"  # float64(ln 2) - hi, exact
    assert float(_mathfuncs._LN2_LO) == math.log(2) - 6.93147180369123816490e-01
    assert _constants.LN2_HI + _constants.LN2_F64_LO == math.log(2)
