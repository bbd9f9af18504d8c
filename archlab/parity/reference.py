"""The two sides of a parity check: archlab's model and the reference implementation.

``load_reference("PKG.MODULE:FACTORY", paths, kwargs)`` imports a module (with ``paths``
prepended to ``sys.path``), calls ``FACTORY(**kwargs)`` and checks that it returned an
``nn.Module``; ``resolve_model`` turns a zoo name, a spec JSON file, a ``Spec`` or a module into
archlab's side. Every way these can fail is a :class:`ParityError` naming the argument at fault,
what would be valid, and the first line of the reference's own exception where there is one.
"""
from __future__ import annotations

import difflib
import importlib
import re
import sys
from pathlib import Path

from torch import nn

from archlab.errors import ArchlabError

# How each argument is called in the Python API and on the command line.
CLI_NAMES = {"model_or_name": "MODEL", "reference_module": "--reference", "reference_path": "--reference-path",
             "reference_kwargs": "--reference-kwargs", "input_size": "--size", "latency_size": "--latency-size",
             "num_classes": "--num-classes", "markdown": "--markdown"}

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_EXAMPLE = "e.g. my_models.fast_scnn:build with --reference-path DIR holding my_models/"


class ParityError(ArchlabError):
    """A parity request that cannot be honoured: names the argument, its value and what is valid.

    ``argument`` is the Python parameter name (``reference_module``, ``input_size``, ...);
    :meth:`cli_message` words the same message with the command-line option instead.
    """

    def __init__(self, argument: str, value, message: str):
        self.argument, self.value, self.detail = argument, value, message
        super().__init__(self._format(argument))

    def _format(self, label: str) -> str:
        value = self.value if isinstance(self.value, str) else _show(self.value)
        return f"{label} {value!r}: {self.detail}" if value is not None else f"{label}: {self.detail}"

    def cli_message(self) -> str:
        return self._format(CLI_NAMES.get(self.argument, "--" + self.argument.replace("_", "-")))


def _show(value):
    if value is None:
        return None
    if isinstance(value, tuple) and len(value) in (2, 4):
        return "x".join(str(v) for v in value)
    return str(value)


def quote_exception(exc: BaseException, limit: int = 240) -> str:
    """``Type: first line of the message``, shortened to ``limit`` characters."""
    text = (str(exc).strip().splitlines() or [""])[0]
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def load_reference(target: str, paths=(), kwargs: dict | None = None, *, argument: str = "reference_module"):
    """Import ``PKG.MODULE:FACTORY`` and return ``(FACTORY(**kwargs), "PKG.MODULE:FACTORY")``.

    ``paths`` (directories) are put at the front of ``sys.path``, in the order given, and stay
    there: a reference often imports more of its own code when it is called or run.
    """
    kwargs = {} if kwargs is None else kwargs
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise ParityError("reference_kwargs", _json_text(kwargs),
                          "expected a JSON object of keyword arguments, e.g. '{\"n_classes\": 19}'")
    if not isinstance(target, str) or target.count(":") != 1:
        raise ParityError(argument, target, f"expected PKG.MODULE:FACTORY, {_EXAMPLE}")
    module_name, factory_name = (part.strip() for part in target.split(":"))
    if not _DOTTED.match(module_name) or not _DOTTED.match(factory_name):
        raise ParityError(argument, target, "PKG.MODULE and FACTORY must be dotted Python names "
                                            f"(letters, digits, underscores), {_EXAMPLE}")
    dirs = [Path(p).expanduser() for p in paths]
    for d in dirs:
        if not d.is_dir():
            raise ParityError("reference_path", str(d), "is not a directory; give the directory that "
                                                        f"holds {module_name.split('.')[0]!r}")
    for d in reversed(dirs):
        if str(d.resolve()) not in sys.path:
            sys.path.insert(0, str(d.resolve()))
    module = _import(module_name, target, dirs, argument)
    factory = module
    for part in factory_name.split("."):
        if not hasattr(factory, part):
            raise ParityError(argument, target, _missing_attribute(module, module_name, factory_name, part))
        factory = getattr(factory, part)
    if not callable(factory):
        raise ParityError(argument, target, f"{module_name}.{factory_name} is a {type(factory).__name__}, not "
                                            "callable; FACTORY must be a function or class returning an nn.Module")
    try:
        model = factory(**kwargs)
    except Exception as exc:  # noqa: BLE001 - the reference's own failure, quoted
        call = f"{factory_name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
        hint = " (check --reference-kwargs against its signature)" if isinstance(exc, TypeError) else ""
        raise ParityError(argument, target, f"{call} raised {quote_exception(exc)}{hint}") from None
    if not isinstance(model, nn.Module):
        raise ParityError(argument, target, f"{factory_name}() returned a {type(model).__name__}, not a "
                                            "torch.nn.Module; FACTORY must return the network")
    return model, f"{module_name}:{factory_name}"


def _import(module_name: str, target: str, dirs, argument: str):
    top = module_name.split(".")[0]
    shadow = _shadowing(top, dirs)
    if shadow:
        raise ParityError(argument, target, shadow)
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            where = (f"in --reference-path {', '.join(map(str, dirs))} or on sys.path" if dirs else
                     "on sys.path (add its directory with --reference-path DIR)")
            raise ParityError(argument, target, f"no module named {missing!r} {where}") from None
        raise ParityError(argument, target, f"importing {module_name!r} failed: {quote_exception(exc)} (a "
                                            "module the reference imports; add its directory with "
                                            "--reference-path)") from None
    except Exception as exc:  # noqa: BLE001 - the reference's own failure, quoted
        raise ParityError(argument, target, f"importing {module_name!r} raised {quote_exception(exc)}") from None


def _shadowing(top: str, dirs) -> str | None:
    """A module already imported under the reference's top-level name, from elsewhere than the
    reference directories that hold one (archlab's own ``blocks`` package, say)."""
    loaded = sys.modules.get(top)
    if loaded is None or not dirs:
        return None
    mine = [d / top for d in dirs if (d / top).is_dir() or (d / f"{top}.py").is_file()]
    origin = getattr(loaded, "__file__", None)
    if not mine or origin is None:
        return None
    if any(Path(origin).resolve().is_relative_to(d.resolve()) for d in dirs):
        return None
    return (f"{top!r} is already imported from {origin}, which shadows the one in {mine[0].parent}; "
            "import it under another name from a small shim module (importlib.util.spec_from_file_location)")


def _missing_attribute(module, module_name: str, factory_name: str, part: str) -> str:
    names = sorted(n for n, v in vars(module).items() if not n.startswith("_") and callable(v)
                   and getattr(v, "__module__", None) == module.__name__)
    close = difflib.get_close_matches(part, names, n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    listing = ", ".join(names[:12]) + (" …" if len(names) > 12 else "")
    return (f"module {module_name!r} has no attribute {factory_name!r}.{hint} Callables defined there: "
            f"{listing or 'none'}")


def _json_text(value) -> str:
    import json

    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def parse_kwargs(text: str | None) -> dict:
    """``--reference-kwargs`` text → dict; anything but a JSON object is a :class:`ParityError`."""
    import json

    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParityError("reference_kwargs", text, f"is not JSON ({exc.msg} at character {exc.pos}); expected "
                                                    "an object such as '{\"n_classes\": 19}'") from None
    if not isinstance(value, dict):
        raise ParityError("reference_kwargs", text, f"is a JSON {type(value).__name__}, expected an object of "
                                                    "keyword arguments such as '{\"n_classes\": 19}'")
    return value


def resolve_model(model_or_name, input_size, num_classes: int = 19):
    """archlab's side → ``(module, name)``: a zoo name (segmentation models, backbones and
    floors), a path to a spec JSON file, an ``archlab.Spec`` or an ``nn.Module``, built and
    checked at ``input_size``."""
    import archlab
    from archlab.errors import SpecError
    from archlab.spec import Spec
    from archlab.zoo import get_spec, list_models

    spec = None
    if isinstance(model_or_name, nn.Module):
        spec = getattr(model_or_name, "spec", None)
        module = model_or_name
    elif isinstance(model_or_name, Spec):
        spec = model_or_name
    elif isinstance(model_or_name, (str, Path)):
        text = str(model_or_name)
        path = Path(text).expanduser()
        if text.endswith(".json") or path.is_file():
            if not path.is_file():
                raise ParityError("model_or_name", text, "no such spec file; give a zoo name (python -m archlab.zoo "
                                                         "lists them) or a spec .json file")
            try:
                spec = Spec.from_json(path.read_text())
            except (SpecError, UnicodeDecodeError) as exc:
                raise ParityError("model_or_name", text, f"not a valid spec file: {exc}") from None
        else:
            try:
                spec = get_spec(text, num_classes=num_classes)
            except SpecError as exc:
                if text in list_models(None):
                    raise ParityError("num_classes", num_classes, str(exc)) from None
                raise ParityError("model_or_name", text, f"{exc} (or give a spec .json file)") from None
    else:
        raise ParityError("model_or_name", type(model_or_name).__name__,
                          "expected a zoo model name, a spec .json path, an archlab.Spec or an nn.Module")
    try:
        if isinstance(model_or_name, nn.Module):
            if spec is not None:
                archlab.graph.check_input_size(spec, input_size)
        else:
            module = archlab.build(spec, input_size=input_size)
    except SpecError as exc:
        raise ParityError("input_size", tuple(input_size)[-2:],
                          f"archlab's model cannot run at this size: {exc}") from None
    name = spec.name if spec is not None else type(module).__name__
    return module, name

