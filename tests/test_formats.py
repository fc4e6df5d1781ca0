"""The format table (``fastglorot._format.tables``) against the libraries that define each format.

Every field of every row is checked against its authority: ml_dtypes' finfo
for the largest value, NumPy/ml_dtypes rounding for the largest normal sample
written finite, torch for the torch dtype, safetensors' own dtype table for the
code.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from fastglorot._format.tables import FORMATS, NAMES, format_of, torch_formats


@pytest.mark.parametrize("name", NAMES)
def test_each_row_agrees_with_the_libraries(name):
    fmt = FORMATS[name]
    dtype = fmt.numpy_dtype()
    assert dtype == np.dtype(ml_dtypes.bfloat16 if name == "bfloat16" else name)
    assert fmt.itemsize == dtype.itemsize and format_of(dtype) == name
    assert fmt.max == float(ml_dtypes.finfo(dtype).max)
    # normal_limit: the largest draw-dtype value that rounds to a finite value of the format
    draw = fmt.draw_dtype
    limit = draw(fmt.normal_limit)
    assert float(limit) == fmt.normal_limit
    with np.errstate(over="ignore"):
        assert np.isfinite(limit.astype(dtype))
        assert not np.isfinite(np.nextafter(limit, draw(np.inf)).astype(dtype))
    assert fmt.bits_dtype.itemsize == fmt.itemsize
    assert fmt.numpy_native == (name in ("float32", "float64", "float16"))


def test_torch_and_safetensors_names():
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    mapping = torch_formats(torch)
    assert sorted(mapping.values()) == sorted(NAMES)
    for torch_dtype, name in mapping.items():
        assert torch_dtype.itemsize == FORMATS[name].itemsize and format_of(torch_dtype) == name
        # safetensors' own torch -> code table (what save_file writes)
        assert safetensors_torch._TYPES[FORMATS[name].safetensors] == torch_dtype


def test_bfloat16_is_recognised_while_another_thread_is_still_importing_ml_dtypes(monkeypatch):
    """An array's dtype is recognised by its scalar type, not by ``sys.modules["ml_dtypes"]``, which holds a
    half-initialized module (no ``bfloat16`` attribute yet) while another thread is importing ml_dtypes."""
    import sys
    import types

    import ml_dtypes
    import numpy as np

    from fastglorot._format.tables import numpy_format

    half_imported = types.ModuleType("ml_dtypes")  # what sys.modules holds mid-import
    monkeypatch.setitem(sys.modules, "ml_dtypes", half_imported)
    assert numpy_format(np.dtype(ml_dtypes.bfloat16)) == "bfloat16"
    assert numpy_format(np.dtype(ml_dtypes.float8_e4m3fn)) is None
    assert numpy_format(np.dtype("V2")) is None
