"""Autograd sees fastglorot's fills of torch tensors as it sees torch's own (README "torch", "Autograd").

Every expectation here comes from torch itself: each fill runs twice on equal
fresh tensors, once by fastglorot and once by the torch operation it stands
for, and the outcomes must agree: the error (type and message) or, after
success, whether a ``grad_fn`` is present, ``requires_grad``/``is_leaf``, how
far the version counter moved, and what ``backward()`` gives (the same input
gradients, or the same error).  ``grad_fn`` type names may differ
(``CopyBackwards`` where torch has ``UniformBackward0``); the gradients may not.

The pairs: fastglorot's public functions against ``Tensor.uniform_`` (an
in-place random fill); ``fastglorot.torch``'s drop-ins against
``torch.nn.init``; ``Tensor.uniform_``/``normal_`` and ``torch.nn.init.*``
inside ``fast_init()`` against the same calls outside it; ``init_module``
against torch re-running the same inits.
"""

import contextlib
import re
from typing import Any, Callable, NamedTuple, Optional, Tuple

import pytest

import fastglorot

torch = pytest.importorskip("torch")
fi = pytest.importorskip("fastglorot.torch")

SHAPE = (6, 5)


# -- the tensors ---------------------------------------------------------------------------------

class Case(NamedTuple):
    target: Any  # the tensor filled
    inputs: Tuple[Any, ...]  # leaves whose gradients backward() computes
    loss: Callable[[], Any]  # the scalar to differentiate, built after the fill


def _leaf(dtype=torch.float32, device="cpu"):
    return torch.ones(SHAPE, dtype=dtype, device=device, requires_grad=True)


def _nonleaf(dtype, device):
    x = _leaf(dtype, device)
    return x, x * 2


def _view_made_under_no_grad(dtype, device):
    x, y = _nonleaf(dtype, device)
    with torch.no_grad():
        view = y[1:4]
    return Case(view, (x,), lambda: y.sum())


def _saved_for_backward(dtype, device):
    x, y = _nonleaf(dtype, device)
    z = (y * y).sum()  # saves y: a later write must make backward() fail
    return Case(y, (x,), lambda: z)


def _parameter(dtype, device):
    p = torch.nn.Parameter(torch.ones(SHAPE, dtype=dtype, device=device))
    return Case(p, (p,), lambda: (p * 3).sum())


def _nonleaf_case(view):
    def make(dtype, device):
        x, y = _nonleaf(dtype, device)
        return Case(view(y), (x,), lambda: y.sum() + x.sum())
    return make


def _leaf_case(view):
    def make(dtype, device):
        x = _leaf(dtype, device)
        return Case(view(x), (x,), lambda: (x * 3).sum())
    return make


def _no_grad_case(view):
    def make(dtype, device):
        return Case(view(torch.zeros(SHAPE, dtype=dtype, device=device)), (), lambda: None)
    return make


CASES = {
    "leaf": _leaf_case(lambda x: x),
    "parameter": _parameter,
    "detached leaf": _leaf_case(lambda x: x.detach()),  # shares x's version counter
    "view of a leaf": _leaf_case(lambda x: x[1:4]),
    "strided view of a leaf": _leaf_case(lambda x: x[:, 1:3]),
    "non-leaf": _nonleaf_case(lambda y: y),
    "view of a non-leaf": _nonleaf_case(lambda y: y[1:4]),
    "strided view of a non-leaf": _nonleaf_case(lambda y: y[:, 1:4]),
    "transposed non-leaf": _nonleaf_case(lambda y: y.t()),
    "output of split (multi-output view)": _nonleaf_case(lambda y: y.split(3)[0]),
    "view made under no_grad": _view_made_under_no_grad,
    "saved for backward": _saved_for_backward,
    "no grad": _no_grad_case(lambda t: t),
    "view, no grad": _no_grad_case(lambda t: t[:, 1:3]),
}


class _GradMode:
    """The grad mode a fill runs in (tensors are made, and backward runs, outside it)."""

    def __init__(self, name):
        self.name = name

    def __call__(self):
        return {"grad": torch.enable_grad, "no_grad": torch.no_grad, "inference_mode": torch.inference_mode,
                "enable_grad inside no_grad": _enable_inside_no_grad}[self.name]()

    def __repr__(self):
        return self.name


@contextlib.contextmanager
def _enable_inside_no_grad():
    with torch.no_grad(), torch.enable_grad():
        yield


MODES = [_GradMode(name) for name in ("grad", "no_grad", "inference_mode", "enable_grad inside no_grad")]


# -- the fills -----------------------------------------------------------------------------------

class Op(NamedTuple):
    ours: Callable[[Any], Any]
    torch: Callable[[Any], Any]
    torch_where_recorded: bool  # a fill that autograd records is left to torch (fast_init's Tensor methods)


def _fast_init(fill):
    def call(tensor):
        with fi.fast_init():
            return fill(tensor)
    return call


def _public(name, *args):
    return lambda t: getattr(fastglorot, name)(t, *args, seed=5, stream="w")


OPS = {
    # fastglorot's own functions: in-place random fills, like Tensor.uniform_
    "fastglorot.uniform_": Op(_public("uniform_", -1.0, 1.0), lambda t: t.uniform_(-1.0, 1.0), False),
    "fastglorot.normal_": Op(_public("normal_", 0.0, 0.5), lambda t: t.normal_(0.0, 0.5), False),
    "fastglorot.trunc_normal_": Op(_public("trunc_normal_", 0.0, 1.0, -2.0, 2.0), lambda t: t.normal_(), False),
    "fastglorot.glorot_uniform_": Op(_public("glorot_uniform_"), lambda t: t.uniform_(-0.6, 0.6), False),
    "fastglorot.he_normal_": Op(_public("he_normal_"), lambda t: t.normal_(0.0, 0.6), False),
    # the drop-ins: torch.nn.init's
    **{f"fastglorot.torch.{name}": Op(getattr(fi, name), getattr(torch.nn.init, name), False)
       for name in ("uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "kaiming_normal_")},
    # inside fast_init(): the Tensor methods and torch.nn.init itself
    "fast_init Tensor.uniform_": Op(_fast_init(lambda t: t.uniform_(-1.0, 1.0)), lambda t: t.uniform_(-1.0, 1.0),
                                    True),
    "fast_init Tensor.normal_": Op(_fast_init(lambda t: t.normal_(0.0, 0.5)), lambda t: t.normal_(0.0, 0.5), True),
    "fast_init torch.nn.init.xavier_uniform_": Op(_fast_init(torch.nn.init.xavier_uniform_),
                                                  torch.nn.init.xavier_uniform_, False),
    "fast_init torch.nn.init.trunc_normal_": Op(_fast_init(torch.nn.init.trunc_normal_),
                                                torch.nn.init.trunc_normal_, False),
}


# -- outcomes ------------------------------------------------------------------------------------

def _message(error):
    # Backward-node names in torch's messages name the grad_fn, which may differ ("output 0 of CopyBackwards"),
    # and version numbers count torch.nn.init.trunc_normal_'s 5 in-place ops (Outcome.versions compares them).
    message = re.sub(r"[\w:]*Backward\w*", "<node>", str(error))
    message = re.sub(r"which is output (\d+) of [\w:<>]+,", r"which is output \1 of <node>,", message)
    return re.sub(r"is at version \d+", "is at version <n>", message)


class Outcome(NamedTuple):
    error: Optional[Tuple[type, str]]
    untouched: Optional[bool]  # after an error: values and version as before
    rng_after_error: Optional[bool]  # after an error: torch's generator as before (nothing drawn)
    grad_fn: Any  # True, False, or the error reading it raises
    requires_grad: Optional[bool]
    is_leaf: Optional[bool]
    versions: Any  # how far the version counter moved (whether it moved, for torch.nn.init.trunc_normal_'s 5 ops)
    backward: Any  # ("error", type, message) or the inputs' gradients as lists


def _read(attribute):
    try:
        return attribute()
    except RuntimeError as error:  # e.g. the grad_fn of a multi-output view written under no_grad: torch refuses
        return ("error", type(error), _message(error))


def run(fill, case, mode, versions=int):
    target = case.target
    before, version, rng = target.detach().clone(), target._version, torch.get_rng_state()
    try:
        with mode():
            fill(target)
    except Exception as error:  # noqa: BLE001 - compared with torch's
        return Outcome((type(error), _message(error)), bool(torch.equal(target.detach(), before))
                       and target._version == version, bool(torch.equal(torch.get_rng_state(), rng)),
                       None, None, None, None, None), None
    filled = target.detach().clone()
    outcome = dict(error=None, untouched=None, rng_after_error=None,
                   grad_fn=_read(lambda: target.grad_fn is not None), requires_grad=_read(lambda: target.requires_grad),
                   is_leaf=_read(lambda: target.is_leaf), versions=versions(target._version - version))
    try:
        loss = case.loss()
        if loss is not None:
            loss.backward()
    except RuntimeError as error:
        return Outcome(**outcome, backward=("error", type(error), _message(error))), filled
    grads = tuple(None if x.grad is None else x.grad.tolist() for x in case.inputs)
    return Outcome(**outcome, backward=grads), filled


def _records(tensor, mode):
    with mode():
        return torch.is_grad_enabled() and tensor.requires_grad


@pytest.mark.parametrize("mode", MODES, ids=repr)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("op", OPS)
def test_fill_has_torchs_autograd_outcome(op, case, mode):
    """The same error, or the same grad_fn presence, version bump and backward result as torch's operation;
    values: fastglorot's (as the same call on a plain tensor), torch's where fast_init() leaves a fill to it."""
    ours, theirs = OPS[op], CASES[case]
    torch.manual_seed(0)
    versions = bool if "trunc_normal_" in op and "torch" in op else int
    expected_torch, torch_values = run(ours.torch, theirs(torch.float32, "cpu"), mode, versions)
    torch.manual_seed(0)
    target_case = theirs(torch.float32, "cpu")
    recorded = _records(target_case.target, mode)
    got, values = run(ours.ours, target_case, mode, versions)
    assert got == expected_torch
    if values is None:
        return
    if recorded and ours.torch_where_recorded:  # torch's own fill: its values, from its generator
        assert torch.equal(values, torch_values)
    else:  # fastglorot's values: those of the same call on a plain tensor of the shape
        plain = torch.empty(values.shape)
        torch.manual_seed(0)
        with torch.no_grad():
            ours.ours(plain)
        assert torch.equal(values, plain)
        assert not torch.equal(values, torch_values)


# -- the example -------------------------------------------------------------------------

@pytest.mark.parametrize("fill", [lambda y: fastglorot.glorot_uniform_(y, seed=1),
                                  _fast_init(lambda y: y.uniform_())], ids=["glorot_uniform_", "fast_init uniform_"])
def test_a_filled_non_leaf_passes_no_gradient_to_its_inputs(fill):
    # issue #28: y kept its MulBackward0, so x.grad summed to 32 where torch's uniform_ gives 0.
    x = torch.ones(4, 4, requires_grad=True)
    y = x * 2
    fill(y)
    y.sum().backward()
    assert x.grad.sum() == 0
    assert not bool((y == 2).any())


# -- 16-bit tensors, failed fills ----------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float64])
def test_a_recorded_fill_writes_the_values_of_the_plain_fill(dtype):
    x = torch.ones(SHAPE, dtype=dtype, requires_grad=True)
    y = x * 2
    view = y[:, 1:4]  # strided: the fresh tensor fastglorot fills is contiguous
    fastglorot.kaiming_uniform_(view, seed=9, stream="v")
    assert torch.equal(view.detach(), fastglorot.kaiming_uniform_(torch.empty(6, 3, dtype=dtype), seed=9, stream="v"))
    assert bool((y[:, 0] == 2).all()) and bool((y[:, 4] == 2).all())
    y.sum().backward()
    expected = torch.full(SHAPE, 2.0, dtype=dtype)
    expected[:, 1:4] = 0
    assert torch.equal(x.grad, expected)


def test_a_fill_that_fails_leaves_the_tensor_and_its_graph_untouched():
    x = torch.ones(SHAPE, requires_grad=True)
    y = x * 2
    grad_fn, version = y.grad_fn, y._version
    with pytest.raises(ValueError, match="low <= high|low.*high"):
        fastglorot.uniform_(y, 1.0, 0.0, seed=1)
    with pytest.raises(RuntimeError):  # torch's own fill refuses the same bounds (its error type), also untouched
        y.uniform_(1.0, 0.0)
    assert y.grad_fn is grad_fn and y._version == version and bool((y == 2).all())


# -- forward-mode AD -----------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")  # torch's first make_dual
@pytest.mark.parametrize("mode", [MODES[0], MODES[1]], ids=repr)
@pytest.mark.parametrize("dual", ["leaf", "non-leaf"])
@pytest.mark.parametrize("op", ["fastglorot.uniform_", "fastglorot.glorot_uniform_", "fastglorot.torch.uniform_",
                                "fastglorot.torch.xavier_uniform_", "fast_init Tensor.uniform_",
                                "fast_init torch.nn.init.xavier_uniform_"])
def test_a_fill_zeroes_the_forward_tangent_as_torchs(op, dual, mode):
    # torch's in-place fills (torch.nn.init's too, under no_grad) overwrite the values, so their tangent is zero.
    import torch.autograd.forward_ad as fwad

    def tangent_after(fill):
        torch.manual_seed(0)
        with fwad.dual_level():
            primal = fwad.make_dual(torch.ones(SHAPE), torch.ones(SHAPE))
            tensor = primal if dual == "leaf" else primal * 2
            with mode():
                fill(tensor)
            unpacked = fwad.unpack_dual(tensor)
            return unpacked.tangent, unpacked.primal.clone()

    ours, values = tangent_after(OPS[op].ours)
    theirs, _ = tangent_after(OPS[op].torch)
    assert (ours is None) == (theirs is None)
    if theirs is not None:
        assert torch.equal(ours, theirs)
    if op.startswith("fastglorot.") and "torch" not in op:  # the public functions fill with fastglorot's values
        assert torch.equal(values, OPS[op].ours(torch.empty(SHAPE)))


# -- torch.func, inference and meta tensors ------------------------------------------------------

@pytest.mark.parametrize("op", ["fastglorot.torch.uniform_", "fastglorot.torch.kaiming_normal_",
                                "fast_init Tensor.uniform_", "fast_init torch.nn.init.xavier_uniform_"])
def test_fills_inside_torch_func_transforms_are_torchs(op):
    # A torch.func tensor has no memory to write: fastglorot.torch leaves it to torch, whose result it gives.
    def run_transforms(fill):
        def f(x):
            y = x * 2
            fill(y)
            return (y * x).sum()
        torch.manual_seed(0)
        grad = torch.func.grad(f)(torch.ones(SHAPE))
        torch.manual_seed(0)
        batched = torch.func.vmap(lambda x: f(x), randomness="same")(torch.ones((3,) + SHAPE))
        return grad, batched

    ours, theirs = run_transforms(OPS[op].ours), run_transforms(OPS[op].torch)
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))


def test_public_functions_refuse_torch_func_tensors_clearly():
    def f(x):
        assert not fi.supports(x * 2)
        fastglorot.glorot_uniform_(x * 2, seed=1)
        return x.sum()

    with pytest.raises(TypeError, match="inside a torch.func transform .*fill it outside the transform"):
        torch.func.grad(f)(torch.ones(SHAPE))


@pytest.mark.parametrize("op", OPS)
def test_inference_tensors(op):
    """Made and filled in inference mode: filled; filled outside it: torch's error (ValueError for the public
    functions, README "Buffers, dtypes and arguments")."""
    with torch.inference_mode():
        tensor = torch.zeros(SHAPE)
        OPS[op].ours(tensor)
    assert torch.count_nonzero(tensor) == tensor.numel()
    with pytest.raises(RuntimeError, match="Inplace update to inference tensor outside InferenceMode"):
        OPS[op].torch(tensor)
    public = not op.startswith(("fastglorot.torch", "fast_init"))
    with pytest.raises(ValueError if public else RuntimeError, match="(?i)inference tensor"):
        OPS[op].ours(tensor)


META_CASES = ["leaf", "parameter", "view of a leaf", "non-leaf", "view of a non-leaf", "no grad"]


@pytest.mark.parametrize("mode", [MODES[0], MODES[1]], ids=repr)
@pytest.mark.parametrize("case", META_CASES)
@pytest.mark.parametrize("op", [name for name in OPS if name.startswith(("fastglorot.torch", "fast_init"))])
def test_meta_tensors_are_torchs(op, case, mode):
    def outcome(fill):
        target = CASES[case](torch.float32, "meta").target
        version = target._version
        try:
            with mode():
                fill(target)
        except RuntimeError as error:
            return ("error", _message(error))
        return target.grad_fn is not None, target.requires_grad, target.is_leaf, target._version > version

    assert outcome(OPS[op].ours) == outcome(OPS[op].torch)


# -- init_module ---------------------------------------------------------------------------------

def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.LayerNorm(16), torch.nn.Linear(16, 4))


def _reinit_outcome(reinit):
    """Re-initialize a model whose output is part of a graph: the parameters' state, and what backward gives."""
    model = _model()
    out = model(torch.ones(3, 8)).sum()
    versions = {name: p._version for name, p in model.named_parameters()}
    reinit(model)
    params = {name: (p.grad_fn is None, p.is_leaf, p.requires_grad, p._version - versions[name])
              for name, p in model.named_parameters()}
    try:
        out.backward()
        stale = None
    except RuntimeError as error:  # the graph saved the old weights: torch notices the write
        stale = _message(error)
    model(torch.ones(3, 8)).sum().backward()
    return params, stale, {name: p.grad is not None for name, p in model.named_parameters()}


def _torch_reinit(init_fn=None):
    def reinit(model):
        with torch.no_grad():  # as init_module runs the inits (README "Sharded and deferred initialization")
            for module in model.modules():
                if init_fn is not None:
                    init_fn(module)
                elif hasattr(module, "reset_parameters"):
                    module.reset_parameters()
    return reinit


def _tensor_method_init(module):
    if isinstance(module, torch.nn.Linear):
        module.weight.normal_(0.0, 0.02)  # Tensor methods on parameters, as Hugging Face's _init_weights
        module.bias.zero_()
    elif isinstance(module, torch.nn.LayerNorm):
        module.weight.fill_(1.0)
        module.bias.zero_()


@pytest.mark.parametrize("init_fn", [None, _tensor_method_init], ids=["reset_parameters", "Tensor methods"])
def test_init_module_has_torchs_autograd_outcome(init_fn):
    ours = _reinit_outcome(lambda model: fi.init_module(model, seed=3, init_fn=init_fn))
    theirs = _reinit_outcome(_torch_reinit(init_fn))
    assert ours == theirs
    assert ours[1] is not None  # the test can see a difference: backward through the old graph fails
