"""A Hugging Face config's model on the meta device, and the checkpoint layout it gives (``_hf`` writes it).

The model class is the config's ``architectures`` entry, else
``AutoModelForCausalLM``, else ``AutoModel``; its dtype the config's (float32
when it names none) or the caller's.  The layout is ``state_dict()``'s names,
shapes and dtypes less the tied names ``save_pretrained`` drops, grouped into
shards; every header is known before any data is written.  torch and
transformers are imported only when a config is used.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

from .._api.stream_format import resolve_stream_format
from .._format.tables import FORMATS, NAMES
from .._interop import load
from ._spec import SpecError

__all__ = ["DEFAULT_MAX_SHARD_SIZE", "WRITABLE_DTYPES", "SAFETENSORS_CODES", "OWNED", "Planned", "require",
           "load_config", "build_meta_model", "saved_names", "registrations", "plan", "config_spec",
           "first_line"]


DEFAULT_MAX_SHARD_SIZE = 50 * 10**9
"""Bytes of tensor data per shard when none is given: ``save_pretrained``'s default, ``"50GB"``."""

WRITABLE_DTYPES = NAMES
"""Model dtypes fastglorot fills (any other would be filled by torch's generator, not reproducibly)."""

SAFETENSORS_CODES = {**{name: fmt.safetensors for name, fmt in FORMATS.items()}, "int64": "I64", "int32": "I32",
                     "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL", "float8_e4m3fn": "F8_E4M3",
                     "float8_e5m2": "F8_E5M2"}
"""torch dtype names -> safetensors dtype codes (buffers may be integers)."""

OWNED = re.compile(r"model(-\d{5}-of-\d{5})?\.safetensors|model\.safetensors\.index\.json|config\.json"
                   r"|generation_config\.json")
"""What a config checkpoint consists of: replaced as a whole; anything else in OUT is kept."""


def require() -> Tuple[Any, Any]:
    """``(torch, transformers)``, or an ImportError that says what to install."""
    # Both named at once when both are missing, with one command that installs them (torch's build: pytorch.org).
    torch, transformers = load("a checkpoint from a Hugging Face config", "torch", "transformers")
    return torch, transformers


# -- the config and the model on meta ---------------------------------------------------------------


def load_config(config: Any) -> Any:
    """A ``transformers.PretrainedConfig`` (a copy) from one, or from a ``config.json`` or a directory holding one.

    Only local files are read (a name that is not a local path is not looked
    up on the Hub).  Errors say what is wrong in the file's terms.
    """
    _, transformers = require()
    if isinstance(config, transformers.PretrainedConfig):
        return copy.deepcopy(config)  # the caller's object is not changed (architectures, dtype are set)
    if not isinstance(config, (str, os.PathLike)):
        raise TypeError(f"config must be a path (a config.json, or a directory holding one) or a "
                        f"transformers.PretrainedConfig, got {type(config).__name__}")
    path = Path(config)
    file = path / "config.json" if path.is_dir() else path
    if not file.is_file():
        where = f"{path} holds no config.json" if path.is_dir() else f"{path}: no such file or directory"
        raise FileNotFoundError(f"config {where}")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise SpecError(f"{file} is not a JSON config: {error}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{file}: a config is a JSON object, got {type(data).__name__}")
    model_type = data.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise SpecError(f"{file} has no \"model_type\": a Hugging Face config.json names its architecture "
                        "(\"llama\", \"gpt2\", ...)")
    if model_type not in transformers.CONFIG_MAPPING:
        raise SpecError(f"{file}: model_type {model_type!r} is not an architecture transformers "
                        f"{transformers.__version__} knows (a newer transformers may; remote code is not run)")
    try:
        return transformers.AutoConfig.from_pretrained(str(file), local_files_only=True)
    except Exception as error:  # its checks also raise huggingface_hub's validation errors, which are no ValueError
        detail = " ".join(str(error).split()) or type(error).__name__  # one line: the reason may be on the second
        raise SpecError(f"{file}: transformers cannot read this config: {detail}") from None


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _model_dtype(config: Any, dtype: Optional[str]) -> Any:
    """The torch dtype of the model: ``dtype``, else the config's ``dtype``/``torch_dtype``, else float32."""
    torch, _ = require()
    if dtype is not None:
        name, source = str(dtype), "dtype"
    else:
        # transformers 5 names it dtype (reading torch_dtype there warns that it is deprecated); 4.x torch_dtype
        value = getattr(config, "dtype", None) if hasattr(config, "dtype") else getattr(config, "torch_dtype", None)
        name = "float32" if value is None or value == "auto" else str(value).removeprefix("torch.")
        source = "the config's dtype"
    if name not in WRITABLE_DTYPES:
        raise SpecError(f"{source} is {name}: fastglorot writes {', '.join(WRITABLE_DTYPES)}"
                        + ("" if dtype is not None else "; pass one (--dtype)"))
    return getattr(torch, name)


def _model_class(config: Any) -> Any:
    """The class to build: the config's first ``architectures`` entry, else the causal-LM Auto class, else AutoModel."""
    _, transformers = require()
    architectures = getattr(config, "architectures", None) or []
    if architectures:
        name = architectures[0]
        cls: Any = getattr(transformers, str(name), None)
        if not (isinstance(cls, type) and issubclass(cls, transformers.PreTrainedModel)):
            raise SpecError(f"the config's architectures names {name!r}, a model transformers "
                            f"{transformers.__version__} does not know")
        wanted = getattr(cls, "config_class", None)
        if isinstance(wanted, type) and not isinstance(config, wanted):
            raise SpecError(f"the config's architectures names {name!r}, which takes a {wanted.__name__}, not a "
                            f"{type(config).__name__}")
        return cls
    for auto in (transformers.AutoModelForCausalLM, transformers.AutoModel):
        with contextlib.suppress(KeyError, ValueError):
            return auto._model_mapping[type(config)]
    raise SpecError(f"transformers {transformers.__version__} has no model for a {type(config).__name__}")


def build_meta_model(config: Any, dtype: Optional[str] = None) -> Any:
    """The model of ``config`` (a PretrainedConfig) on the ``meta`` device, in the dtype :func:`_model_dtype` picks.

    The model's ``config`` records what ``save_pretrained`` records: its
    ``architectures`` (the class built) and ``dtype``.
    """
    torch, transformers = require()
    torch_dtype = _model_dtype(config, dtype)
    cls = _model_class(config)
    keyword = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
    try:
        with torch.device("meta"):
            model = cls._from_config(config, **{keyword: torch_dtype})
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, AssertionError, RuntimeError) as error:
        raise SpecError(f"{cls.__name__} cannot be built from this config: {first_line(error)}") from None
    model.config.architectures = [type(model).__name__]
    setattr(model.config, keyword, str(torch_dtype).removeprefix("torch."))
    return model


def saved_names(model: Any) -> List[str]:
    """The state-dict names ``save_pretrained`` writes: ignored keys and the tied duplicates it drops removed."""
    state = model.state_dict()
    for key in getattr(model, "_keys_to_ignore_on_save", None) or []:
        state.pop(key, None)
    from transformers import modeling_utils

    remove_tied = getattr(modeling_utils, "remove_tied_weights_from_state_dict", None)
    if remove_tied is not None:
        return list(remove_tied(state, model))
    seen: Set[int] = set()  # older transformers: the first name of each tensor object
    names = []
    registered = registrations(model)
    for name in state:
        module, kind, local = registered[name]
        tensor = getattr(module, kind)[local]
        if id(tensor) not in seen:
            seen.add(id(tensor))
            names.append(name)
    return names


# -- the layout: names, shapes, dtypes and offsets, from the meta model -------------------------------


@dataclasses.dataclass
class Planned:
    """One tensor of the checkpoint: where it is registered, where its bytes go."""

    name: str
    shape: Tuple[int, ...]
    dtype: Any  # torch.dtype
    nbytes: int
    shard: int = 0
    position: int = 0  # absolute byte offset in its shard


def registrations(model: Any) -> Dict[str, Tuple[Any, str, str]]:
    """Fully qualified name -> (module, ``"_parameters"``/``"_buffers"``, local name), every name of every tensor."""
    found: Dict[str, Tuple[Any, str, str]] = {}
    for module_name, module in model.named_modules(remove_duplicate=False):  # as state_dict() names them
        for kind in ("_parameters", "_buffers"):
            for local, tensor in getattr(module, kind).items():
                if tensor is not None:
                    found[f"{module_name}.{local}" if module_name else local] = (module, kind, local)
    return found


def plan(model: Any) -> List[Planned]:
    """The tensors to write, in state-dict order, checked against what safetensors and fastglorot can hold."""
    registered = registrations(model)
    planned = []
    for name in saved_names(model):
        if name not in registered:
            raise SpecError(f"{type(model).__name__}: state-dict entry {name!r} is no parameter or buffer of the "
                            "model (a custom state_dict): not supported")
        module, kind, local = registered[name]
        tensor = getattr(module, kind)[local]
        dtype_name = str(tensor.dtype).removeprefix("torch.")
        if dtype_name not in SAFETENSORS_CODES:
            raise SpecError(f"{name!r}: dtype {dtype_name} has no safetensors code fastglorot writes")
        planned.append(Planned(name, tuple(tensor.shape), tensor.dtype, tensor.numel() * tensor.element_size()))
    return planned


def config_spec(config: Any, *, dtype: Optional[str] = None, stream_format: Optional[int] = None
                ) -> Dict[str, Dict[str, Any]]:
    """What a config checkpoint holds: name -> shape, dtype, ``"init": "<ModelClass>._init_weights"`` and the
    stream format of its fills (``stream_format``; None: the current one).

    A listing (``fastglorot init --config ... --print-spec``), not a spec
    ``--spec`` accepts: the values come from the model's own init.
    """
    fmt = resolve_stream_format(stream_format)
    model = build_meta_model(load_config(config), dtype)
    init = f"{type(model).__name__}._init_weights"
    return {t.name: {"shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch."), "init": init,
                     "stream_format": fmt} for t in plan(model)}
