"""Output buffers: zero-copy NumPy views of every kind of writable CPU buffer."""

import array
import ctypes
import mmap
import sys

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

from fastglorot._api.buffers import Output, allocate, as_output
from fastglorot._format.tables import NAMES as FORMATS
from fastglorot._format.tables import format_of

# Bits of 1.5 and -2.0 in each 16-bit format.
F16_BITS = {1.5: 0x3E00, -2.0: 0xC000}
BF16_BITS = {1.5: 0x3FC0, -2.0: 0xC000}


@pytest.fixture
def ml_dtypes():
    return pytest.importorskip("ml_dtypes")


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def write_value(output: Output, value: float) -> None:
    """Store ``value`` through the view, as bits for the 16-bit formats."""
    if output.format == "float16":
        output.array[...] = F16_BITS[value]
    elif output.format == "bfloat16":
        output.array[...] = BF16_BITS[value]
    else:
        output.array[...] = value


def check_view(output: Output, original, shape, format_):
    assert isinstance(output, Output)
    assert output.format == format_
    assert output.result is original
    assert output.array.shape == tuple(shape)
    assert output.array.flags.writeable
    if format_ in ("float16", "bfloat16"):
        assert output.array.dtype.kind == "u" and output.array.dtype.itemsize == 2
    else:
        assert output.array.dtype.kind == "f" and output.array.dtype.itemsize == int(format_[5:]) // 8


# -- NumPy arrays ---------------------------------------------------------------

NUMPY_FLOATS = [("float32", "float32"), (">f4", "float32"), ("float64", "float64"), (">f8", "float64"),
                ("float16", "float16"), (">f2", "float16"), ("<f2", "float16")]


def numpy_layouts(dtype):
    base = np.zeros((6, 8), dtype)
    return base, {
        "c": base,
        "fortran": np.asfortranarray(base),
        "transposed": base.T,
        "stepped": base[1::2, ::3],
        "reversed": base[::-1, ::-2],
        "zero-d": base[2, 3, ...],
    }


@pytest.mark.parametrize("layout", ["c", "fortran", "transposed", "stepped", "reversed", "zero-d"])
@pytest.mark.parametrize("dtype, format_", NUMPY_FLOATS)
def test_numpy_arrays_are_viewed_in_place(dtype, format_, layout):
    _, layouts = numpy_layouts(dtype)
    out = layouts[layout]
    output = as_output(out)
    check_view(output, out, out.shape, format_)
    assert np.shares_memory(output.array, out)
    write_value(output, 1.5)
    assert np.all(out == 1.5)
    output.finish()  # a no-op for NumPy arrays
    assert np.all(out == 1.5)


def test_float16_keeps_byte_order_so_values_are_the_bits():
    out = np.zeros(3, ">f2")
    output = as_output(out)
    assert output.array.dtype == np.dtype(">u2")
    output.array[...] = F16_BITS[-2.0]
    assert np.all(out == -2.0)


def test_bfloat16_numpy_arrays(ml_dtypes):
    out = np.zeros((4, 6), ml_dtypes.bfloat16)[::2, 1::2].T
    output = as_output(out)
    check_view(output, out, (3, 2), "bfloat16")
    assert output.array.dtype == np.uint16
    assert np.shares_memory(output.array, out)
    write_value(output, -2.0)
    assert np.all(out.astype(np.float32) == -2.0)


def test_memmap_writes_reach_the_file(tmp_path):
    path = tmp_path / "weights.bin"
    np.zeros((4, 5), np.float32).tofile(path)
    out = np.memmap(path, dtype=np.float32, mode="r+", shape=(4, 5))
    output = as_output(out)
    check_view(output, out, (4, 5), "float32")
    output.array[1:3] = 1.5
    out.flush()
    del output, out
    on_disk = np.fromfile(path, np.float32).reshape(4, 5)
    assert np.all(on_disk[1:3] == 1.5) and np.all(on_disk[[0, 3]] == 0)


def test_read_only_memmap_is_rejected(tmp_path):
    path = tmp_path / "weights.bin"
    np.zeros(4, np.float32).tofile(path)
    with pytest.raises(ValueError, match="read-only"):
        as_output(np.memmap(path, dtype=np.float32, mode="r"))


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 0, 2)])
def test_zero_size_arrays(shape):
    out = np.empty(shape, np.float32)
    output = as_output(out)
    check_view(output, out, shape, "float32")
    assert output.array.size == 0


def test_read_only_array_is_rejected():
    out = np.ones(3, np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        as_output(out)
    with pytest.raises(ValueError, match="read-only"):
        as_output(np.broadcast_to(np.ones(3, np.float32), (4, 3)))


@pytest.mark.parametrize("dtype", [np.int32, np.uint16, np.int64, np.bool_, np.complex64, np.complex128,
                                   object, np.longdouble, [("a", np.float32)], "V4"])
def test_unsupported_numpy_dtypes(dtype):
    if np.dtype(dtype) == np.float64:  # longdouble is float64 on some platforms
        pytest.skip("longdouble is float64 here")
    with pytest.raises(TypeError, match="float32, float64, float16 or bfloat16"):
        as_output(np.zeros(3, dtype))


def test_other_ml_dtypes_are_rejected(ml_dtypes):
    with pytest.raises(TypeError, match="float8"):
        as_output(np.zeros(3, ml_dtypes.float8_e4m3fn))


def test_zero_strides_are_rejected():
    base = np.zeros(4, np.float32)
    for strides, shape in [((0,), (4,)), ((4, 0), (4, 3)), ((0, 4), (2, 4))]:
        view = as_strided(base, shape=shape, strides=strides)
        assert view.flags.writeable
        with pytest.raises(ValueError, match="zero stride"):
            as_output(view)
    assert np.all(base == 0)


def test_zero_stride_on_a_length_one_axis_is_fine():
    base = np.zeros(4, np.float32)
    out = as_strided(base, shape=(1, 4), strides=(0, 4))
    output = as_output(out)
    write_value(output, 1.5)
    assert np.all(base == 1.5)


def test_overlapping_views_are_rejected():
    base = np.zeros(16, np.float32)
    with pytest.raises(ValueError, match="overlap"):
        as_output(as_strided(base, shape=(3, 3), strides=(4, 4)))  # sliding window
    with pytest.raises(ValueError, match="overlap"):
        as_output(as_strided(base, shape=(4,), strides=(2,)))  # elements overlap by half
    with pytest.raises(ValueError, match="overlap"):
        as_output(as_strided(base, shape=(2, 3), strides=(8, 4)))  # rows share an element
    assert np.all(base == 0)


def test_interleaved_views_without_overlap_are_accepted():
    # Byte offsets 0, 12, 8, 20, 16, 28: disjoint float32 elements, though the
    # slower axis (stride 12) does not step over the faster one (extent 20).
    base = np.zeros(8, np.float32)
    out = as_strided(base, shape=(3, 2), strides=(8, 12))
    output = as_output(out)
    write_value(output, 1.5)
    assert np.count_nonzero(base == 1.5) == 6


# -- torch tensors --------------------------------------------------------------

def torch_dtypes(torch):
    return [(torch.float32, "float32"), (torch.float64, "float64"),
            (torch.float16, "float16"), (torch.bfloat16, "bfloat16")]


@pytest.mark.parametrize("index", range(4))
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "stepped", "offset", "as_strided", "zero-size"])
def test_torch_tensors_are_viewed_in_place(torch, index, layout):
    dtype, format_ = torch_dtypes(torch)[index]
    base = torch.zeros(6, 8, dtype=dtype)
    out = {
        "contiguous": base,
        "transposed": base.t(),
        "stepped": base[:, ::2],
        "offset": base[1:, 3:],
        "as_strided": base.as_strided((3, 2, 2), (1, 16, 3), 5),
        "zero-size": base[:, :0],
    }[layout]
    output = as_output(out)
    check_view(output, out, out.shape, format_)
    if out.numel():
        assert output.array.__array_interface__["data"][0] == out.data_ptr()
    write_value(output, 1.5)
    assert bool((out == 1.5).all())
    assert int((base == 1.5).sum()) == out.numel()  # nothing outside the view was written
    write_value(output, -2.0)
    assert bool((out == -2.0).all())


def test_torch_finish_bumps_the_version_counter(torch):
    out = torch.zeros(2, 3)
    output = as_output(out)
    before = out._version
    output.finish()
    assert out._version > before


def test_torch_views_share_the_version_counter(torch):
    base = torch.zeros(4, 4)
    view = base[:, 1]
    before = base._version
    as_output(view).finish()
    assert base._version > before


def test_torch_tensor_requiring_grad(torch):
    out = torch.nn.Parameter(torch.zeros(3, 2))
    with torch.no_grad():  # as torch.nn.init writes parameters (outside it: tests/test_torch_autograd.py)
        output = as_output(out)
        assert output.result is out
        before = out._version
        write_value(output, 1.5)
        output.finish()
    assert out._version > before
    assert out.requires_grad and out.is_leaf
    assert bool((out.detach() == 1.5).all())


def test_torch_bump_makes_autograd_notice_the_write(torch):
    w = torch.ones(3, requires_grad=True)
    x = torch.full((3,), 2.0)
    y = (w * x).sum()  # saves x for backward
    output = as_output(x)
    write_value(output, 1.5)
    output.finish()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_torch_inference_tensors(torch):
    with torch.inference_mode():
        out = torch.zeros(3)
    with pytest.raises(ValueError, match="inference"):
        as_output(out)
    with torch.inference_mode():
        output = as_output(out)
        write_value(output, 1.5)
        output.finish()  # inference tensors have no version counter: must not raise
    assert bool((out == 1.5).all())


def test_torch_meta_tensor_is_rejected(torch):
    with pytest.raises(ValueError, match="meta"):
        as_output(torch.empty(3, device="meta"))


def test_torch_cuda_tensor_goes_to_the_cuda_path(torch):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    pytest.importorskip("numba_cuda")
    target = as_output(torch.zeros(3, 5, device="cuda", dtype=torch.bfloat16))
    assert target.device == "cuda" and target.format == "bfloat16" and target.array.shape == (3, 5)


@pytest.mark.parametrize("name", ["int32", "int16", "uint8", "bool", "complex64", "complex128", "float8_e4m3fn"])
def test_torch_unsupported_dtypes(torch, name):
    if not hasattr(torch, name):
        pytest.skip(f"torch has no {name}")
    with pytest.raises(TypeError, match="float32, float64, float16 or bfloat16"):
        as_output(torch.zeros(3, dtype=getattr(torch, name)))


def test_torch_complex_conjugate_is_a_type_error(torch):
    with pytest.raises(TypeError):
        as_output(torch.zeros(3, dtype=torch.complex64).conj())


def test_torch_neg_bit_is_rejected(torch):
    if not hasattr(torch, "_neg_view"):
        pytest.skip("torch has no _neg_view")
    base = torch.zeros(3)
    out = torch._neg_view(base)
    assert out.is_neg()
    with pytest.raises(ValueError, match="negative bit"):
        as_output(out)


def test_torch_sparse_tensor_is_rejected(torch):
    with pytest.raises(TypeError, match="layout"):
        as_output(torch.zeros(2, 2).to_sparse())


@pytest.mark.filterwarnings("ignore::UserWarning")  # quantized tensors are deprecated
def test_torch_quantized_tensor_is_rejected(torch):
    try:
        out = torch.quantize_per_tensor(torch.zeros(3), 0.1, 0, torch.quint8)
    except (AttributeError, RuntimeError):
        pytest.skip("quantized tensors unavailable")
    with pytest.raises(TypeError):
        as_output(out)


def test_torch_expanded_tensor_is_rejected(torch):
    base = torch.zeros(3, 1)
    with pytest.raises(ValueError, match="zero stride"):
        as_output(base.expand(3, 4))
    assert bool((base == 0).all())


def test_torch_is_never_imported(python_runner):
    code = ("import sys, numpy as np\n"
            "from fastglorot._api.buffers import as_output, allocate\nfrom fastglorot._format.tables import format_of\n"
            "as_output(np.zeros(3, np.float32)); as_output(memoryview(bytearray(8)).cast('f'))\n"
            "assert format_of('bfloat16') == 'bfloat16' and format_of('float16') == 'float16'\n"
            "allocate(3, 'float32')\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    python_runner(code)


# -- DLPack -----------------------------------------------------------------------

class DLPackExporter:
    """Exports another object's memory through DLPack only."""

    def __init__(self, source, device=None):
        self.source = source
        self.device = device
        self.calls = 0

    def __dlpack__(self, **kwargs):
        self.calls += 1
        return self.source.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.device if self.device is not None else self.source.__dlpack_device__()


class LegacyDLPackExporter(DLPackExporter):
    """An exporter predating DLPack 1.0: no keyword arguments, no flags."""

    def __dlpack__(self, stream=None):
        self.calls += 1
        return self.source.__dlpack__()


@pytest.mark.parametrize("dtype, format_", [("float32", "float32"), ("float64", "float64"), ("float16", "float16")])
def test_dlpack_exporters_are_viewed_in_place(dtype, format_):
    source = np.zeros((5, 4), dtype)[::2, 1:]
    out = DLPackExporter(source)
    output = as_output(out)
    check_view(output, out, (3, 3), format_)
    assert np.shares_memory(output.array, source)
    write_value(output, 1.5)
    assert np.all(source == 1.5)


def test_dlpack_of_a_torch_tensor(torch):
    base = torch.zeros(4, 6)
    source = base.t()[1:, ::2]
    out = DLPackExporter(source)
    output = as_output(out)
    check_view(output, out, source.shape, "float32")
    write_value(output, 1.5)
    assert bool((source == 1.5).all()) and int((base == 1.5).sum()) == source.numel()


def test_dlpack_bfloat16_is_a_clear_type_error(torch):
    out = DLPackExporter(torch.zeros(3, dtype=torch.bfloat16))
    with pytest.raises(TypeError, match="bfloat16"):
        as_output(out)


@pytest.mark.parametrize("device", [(2, 0), (13, 0)])
def test_dlpack_cuda_device_goes_to_the_cuda_path_without_export(device):
    """kDLCUDA and kDLCUDAManaged memory is filled on the GPU (README "GPU"), never viewed as a CPU buffer."""
    from fastglorot._engines.cuda_arrays import is_cuda_array

    out = DLPackExporter(np.zeros(3, np.float32), device=device)
    assert is_cuda_array(out) and out.calls == 0


@pytest.mark.parametrize("device", [(10, 1), (99, 0)])
def test_dlpack_non_cpu_device_is_rejected_without_export(device):
    source = np.zeros(3, np.float32)
    out = DLPackExporter(source, device=device)
    with pytest.raises(ValueError, match=f"device type {device[0]}"):
        as_output(out)
    assert out.calls == 0


def test_dlpack_pinned_host_memory_is_accepted():
    source = np.zeros(3, np.float32)
    out = DLPackExporter(source, device=(3, 0))  # kDLCUDAHost
    write_value(as_output(out), 1.5)
    assert np.all(source == 1.5)


def test_dlpack_read_only_export_is_rejected():
    source = np.zeros(3, np.float32)
    source.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        as_output(DLPackExporter(source))


def test_dlpack_legacy_export_is_rejected_as_read_only():
    if np.lib.NumpyVersion(np.__version__) < "2.1.0":
        pytest.skip("NumPy < 2.1 imports legacy exports writable")
    source = np.zeros(3, np.float32)
    out = LegacyDLPackExporter(source)
    with pytest.raises(ValueError, match="without version 1.0 flags.*read-only"):
        as_output(out)
    assert out.calls >= 1


def test_dlpack_unsupported_dtype():
    with pytest.raises(TypeError, match="float32, float64, float16 or bfloat16"):
        as_output(DLPackExporter(np.zeros(3, np.int32)))


def test_dlpack_without_device_is_a_type_error():
    class NoDevice:
        def __dlpack__(self, **kwargs):
            raise AssertionError("must not be called")

    with pytest.raises(TypeError, match="__dlpack_device__"):
        as_output(NoDevice())


# -- __array_interface__ / __array_struct__ ------------------------------------------

class InterfaceExporter:
    def __init__(self, source, read_only=False):
        self.source = source
        interface = dict(source.__array_interface__)
        interface["data"] = (interface["data"][0], read_only)
        self.__array_interface__ = interface


class StructExporter:
    def __init__(self, source):
        self.source = source

    @property
    def __array_struct__(self):
        return self.source.__array_struct__


@pytest.mark.parametrize("exporter", [InterfaceExporter, StructExporter])
@pytest.mark.parametrize("dtype, format_", [("float32", "float32"), (">f8", "float64"), ("float16", "float16")])
def test_array_interface_exporters_are_viewed_in_place(exporter, dtype, format_):
    source = np.zeros((4, 6), dtype).T[::-2]
    out = exporter(source)
    output = as_output(out)
    check_view(output, out, source.shape, format_)
    assert np.shares_memory(output.array, source)
    write_value(output, 1.5)
    assert np.all(source == 1.5)


def test_array_interface_read_only_flag():
    source = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="read-only"):
        as_output(InterfaceExporter(source, read_only=True))
    assert np.all(source == 0)


def test_array_interface_unsupported_dtype():
    with pytest.raises(TypeError, match="got int32"):
        as_output(InterfaceExporter(np.zeros(3, np.int32)))


@pytest.mark.parametrize("exporter", [InterfaceExporter, StructExporter])
def test_array_interface_copy_is_refused(monkeypatch, exporter):
    source = np.zeros(3, np.float32)
    out = exporter(source)
    monkeypatch.setattr(np, "asarray", lambda obj: np.array(obj, copy=True))
    with pytest.raises(TypeError, match="copy"):
        as_output(out)


def test_array_method_alone_is_not_enough():
    class ArrayLike:  # np.asarray could copy it: never accepted
        def __array__(self, dtype=None, copy=None):
            return np.zeros(3, np.float32)

    with pytest.raises(TypeError, match="writable buffer"):
        as_output(ArrayLike())


def test_cuda_array_interface_goes_to_the_cuda_path():
    """Never a CPU view of device memory: the GPU fills it (tests/test_cuda_public.py checks the values)."""
    class CudaArray:
        __cuda_array_interface__ = {"shape": (3,), "typestr": "<f4", "data": (0, False), "version": 3}

    target = as_output(CudaArray())
    assert target.device == "cuda" and target.array.shape == (3,) and target.array.nbytes == 12


# -- buffer protocol ------------------------------------------------------------

def buffer_objects():
    raw = bytearray(16)
    return {
        "array('f')": (array.array("f", [0.0] * 4), "float32", (4,)),
        "array('d')": (array.array("d", [0.0] * 3), "float64", (3,)),
        "ctypes": ((ctypes.c_float * 2 * 3)(), "float32", (3, 2)),
        "memoryview": (memoryview(raw).cast("f"), "float32", (4,)),
        "2-d memoryview": (memoryview(raw).cast("d", (2, 1)), "float64", (2, 1)),
    }


@pytest.mark.parametrize("name", ["array('f')", "array('d')", "ctypes", "memoryview", "2-d memoryview"])
def test_buffer_protocol_objects_are_viewed_in_place(name):
    out, format_, shape = buffer_objects()[name]
    output = as_output(out)
    check_view(output, out, shape, format_)
    write_value(output, 1.5)
    assert np.all(np.asarray(memoryview(out)) == 1.5)


def test_memoryview_writes_reach_its_exporter():
    raw = bytearray(8)
    out = memoryview(raw).cast("f")
    write_value(as_output(out), -2.0)
    assert np.all(np.frombuffer(raw, np.float32) == -2.0)


@pytest.mark.parametrize("out", [bytearray(8), array.array("i", [0, 0]), mmap.mmap(-1, 8)],
                         ids=["bytearray", "array('i')", "mmap"])
def test_buffers_of_other_types(out):
    with pytest.raises(TypeError, match="got uint8|got int32"):
        as_output(out)


@pytest.mark.parametrize("out", [b"\0" * 8, memoryview(b"\0" * 8), memoryview(bytearray(8)).toreadonly().cast("f")],
                         ids=["bytes", "memoryview(bytes)", "read-only memoryview"])
def test_read_only_buffers(out):
    with pytest.raises(ValueError, match="read-only"):
        as_output(out)


@pytest.mark.parametrize("out", [[1.0, 2.0], (1.0,), 1.0, 1, True, None, "abc", np.float32(1.0), object(), {}],
                         ids=lambda value: type(value).__name__)
def test_non_buffers_are_type_errors(out):
    with pytest.raises(TypeError, match=f"writable buffer.*got {type(out).__name__}"):
        as_output(out)


# -- format_of and allocate ---------------------------------------------------------

@pytest.mark.parametrize("dtype, expected", [
    (np.float32, "float32"), ("float32", "float32"), (np.dtype("float32"), "float32"), ("f4", "float32"),
    (">f4", "float32"), ("single", "float32"),
    (np.float64, "float64"), ("float64", "float64"), (float, "float64"), ("double", "float64"),
    (np.float16, "float16"), ("float16", "float16"), (np.dtype("float16"), "float16"), ("half", "float16"),
    ("bfloat16", "bfloat16"),
])
def test_format_of(dtype, expected):
    assert format_of(dtype) == expected


def test_format_of_ml_dtypes_bfloat16(ml_dtypes):
    assert format_of(ml_dtypes.bfloat16) == "bfloat16"
    assert format_of(np.dtype(ml_dtypes.bfloat16)) == "bfloat16"


def test_format_of_torch_dtypes(torch):
    for dtype, format_ in torch_dtypes(torch):
        assert format_of(dtype) == format_
    for dtype in (torch.int32, torch.complex64, torch.bool, torch.uint8):
        with pytest.raises(TypeError, match="float32, float64, float16 or bfloat16"):
            format_of(dtype)


@pytest.mark.parametrize("dtype", [np.int32, "int32", np.uint16, np.complex64, "complex64", "float8", "foo",
                                   None, bool, object, np.longdouble, "V2", [("a", "f4")]])
def test_format_of_rejects(dtype):
    if dtype is np.longdouble and np.dtype(dtype) == np.float64:
        pytest.skip("longdouble is float64 here")
    with pytest.raises(TypeError, match="float32, float64, float16 or bfloat16"):
        format_of(dtype)


def test_format_of_rejects_other_ml_dtypes(ml_dtypes):
    for dtype in (ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2, ml_dtypes.int4):
        with pytest.raises(TypeError):
            format_of(dtype)


@pytest.mark.parametrize("format_", FORMATS)
def test_allocate(format_):
    if format_ == "bfloat16":
        pytest.importorskip("ml_dtypes")
    out = allocate((2, 3), format_)
    assert isinstance(out, np.ndarray) and out.shape == (2, 3) and out.flags.c_contiguous
    assert out.dtype.isnative and out.dtype.itemsize == {"float32": 4, "float64": 8}.get(format_, 2)
    assert format_of(out.dtype) == format_
    output = as_output(out)
    assert output.format == format_ and output.result is out


def test_allocate_bfloat16_is_an_ml_dtypes_array(ml_dtypes):
    out = allocate(4, "bfloat16")
    assert out.dtype == np.dtype(ml_dtypes.bfloat16)
    write_value(as_output(out), 1.5)
    assert np.all(out.astype(np.float32) == 1.5)


def test_allocate_native_order_and_scalar_shape():
    assert allocate((3,), ">f8").dtype == np.dtype("=f8")
    assert allocate((), np.float32).shape == ()


def test_allocate_bfloat16_without_ml_dtypes(monkeypatch):
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)  # makes the import fail
    assert format_of("bfloat16") == "bfloat16"
    with pytest.raises(ImportError, match="ml_dtypes"):
        allocate(3, "bfloat16")


def test_allocate_rejects_bad_dtypes():
    with pytest.raises(TypeError):
        allocate(3, np.int32)
    with pytest.raises(TypeError):
        allocate(3, None)


def test_formats():
    assert FORMATS == ("float32", "float64", "float16", "bfloat16")
