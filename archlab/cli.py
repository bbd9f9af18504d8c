"""One home for what archlab's command lines share: argument types that check values (sizes,
devices that exist on this machine, counts, output paths) and the way every command ends on a
user's mistake: one line naming the argument or file, and exit status 2.

Argument types raise ``argparse.ArgumentTypeError``, so argparse names the option in its message
(``error: argument --device: ...``) before any work starts. :func:`run` wraps a command's
``main`` so that any :class:`~archlab.errors.ArchlabError` raised later is printed as one line
(``error: ...``) with exit status 2, and Ctrl-C ends with status 130.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from archlab.errors import ArchlabError

#: The largest image side any command accepts: 8192 px (a 1x3x8192x8192 fp32 input alone is 768 MiB;
#: feature maps of a segmentation network are many times that).
MAX_SIDE = 8192


class ArgumentError(ArchlabError):
    """A command-line value that is not valid; the message names the option and what would be."""


def parse_size(text: str, option: str = "--size") -> tuple[int, int]:
    """``"HxW"`` -> ``(H, W)``: positive integers, each at most :data:`MAX_SIDE`."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", str(text))
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not HxW with positive integers, e.g. 1024x2048")
    h, w = int(match[1]), int(match[2])
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: height and width must be positive, e.g. 1024x2048")
    if max(h, w) > MAX_SIDE:
        raise argparse.ArgumentTypeError(f"{text!r}: sides above {MAX_SIDE} px are refused (the limit); "
                                         f"the papers measure at 1024x2048")
    return h, w


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``"HxW,HxW"`` -> a list of sizes."""
    return [parse_size(part) for part in str(text).split(",") if part.strip()]


def devices_here() -> list[str]:
    """The device names this machine can run: ``cpu``, and ``cuda``/``cuda:N`` and ``mps`` where present."""
    import torch

    names = ["cpu"]
    if torch.cuda.is_available():
        names += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        names.append("mps")
    return names


def check_device(name: str) -> str:
    """``name`` if this machine has that device, else an :class:`ArgumentError` listing those it has."""
    here = devices_here()
    text = str(name).strip().lower()
    if text in here:
        return text
    if text.startswith("cuda") and re.fullmatch(r"cuda(:\d+)?", text):
        why = "this machine has no CUDA device" if "cuda" not in here else \
            f"this machine has CUDA devices 0..{sum(d.startswith('cuda:') for d in here) - 1}"
        raise ArgumentError(f"device {name!r} is not available: {why}; valid here: {', '.join(here)}")
    raise ArgumentError(f"unknown device {name!r}; valid here: {', '.join(here)}")


def device(text: str) -> str:
    """argparse type: a device that exists on this machine."""
    try:
        return check_device(text)
    except ArgumentError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def devices(text: str) -> list[str]:
    """argparse type: a comma-separated list of devices that exist here."""
    return [device(part) for part in str(text).split(",") if part.strip()]


def _integer(text: str, minimum: int, maximum: int | None, what: str) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer ({what})") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise argparse.ArgumentTypeError(f"{value} is out of range: {what} must be {bound}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _integer(text, 1, None, "a count")


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _integer(text, 0, None, "a count")


def threads(text: str) -> int:
    """argparse type: a CPU thread count, 1 .. 4x the cores of this machine."""
    return _integer(text, 1, 4 * (os.cpu_count() or 1), "the CPU thread count")


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number above 0")
    return value


def check_writable(path, *, kind: str = "file", option: str = "--out") -> Path:
    """Check before any work that ``path`` can be written: a ``kind`` ("file" or "dir"). The
    folder that will hold it is created if missing and a probe file is written and removed there
    (permission bits alone do not tell: root ignores them, /proc refuses anyway). Raises
    :class:`ArgumentError` naming ``option``."""
    import tempfile

    path = Path(path)
    if kind == "file" and path.is_dir():
        raise ArgumentError(f"{option} {str(path)!r} is a folder; give a file path")
    if kind == "dir" and path.exists() and not path.is_dir():
        raise ArgumentError(f"{option} {str(path)!r} is a file; give a folder path")
    folder = path if kind == "dir" else path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".archlab-probe-"):
            pass
        if kind == "file" and path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(f"{path} is read-only")
    except OSError as exc:
        raise ArgumentError(f"{option} {str(path)!r} cannot be written: {exc.strerror or exc}") from None
    return path


def _writable(option: str, kind: str):
    def check(text: str) -> Path:
        try:
            return check_writable(text, kind=kind, option=option)
        except ArgumentError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return check


def writable_file(option: str):
    """argparse type factory: an output file path that can be written (checked before any work)."""
    return _writable(option, "file")


def writable_dir(option: str):
    """argparse type factory: an output folder that exists writable or can be created."""
    return _writable(option, "dir")


def run(main, argv=None) -> int:
    """Run a command's ``main(argv)``; an ArchlabError becomes ``error: ...`` and exit status 2,
    Ctrl-C exit status 130."""
    try:
        return main(argv)
    except ArchlabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def add_studies_dir(parser: argparse.ArgumentParser) -> None:
    """``--studies-dir DIR`` (repeatable): folders of the user's own study and search files, searched
    before ``ARCHLAB_STUDIES`` and archlab's own (:mod:`archlab.study.files`)."""
    parser.add_argument("--studies-dir", action="append", default=[], type=existing_dir("--studies-dir"),
                        metavar="DIR", help="a folder of your own study/search files (repeatable; searched before "
                        "the folders in $ARCHLAB_STUDIES and archlab's own)")


def existing_dir(option: str):
    """An argument type: a folder that exists."""
    def check(text: str) -> Path:
        path = Path(text).expanduser()
        if not path.is_dir():
            raise argparse.ArgumentTypeError(f"{text!r} is not a folder (for {option})")
        return path
    return check


# -- the options every command shares: one declaration each ------------------------------------------


def add_size(parser, *, default=None, help: str = "input HxW", option: str = "--size") -> None:
    """``--size HxW`` checked by :func:`parse_size`."""
    parser.add_argument(option, type=lambda text: parse_size(text, option), default=default, metavar="HxW",
                        help=help)


def add_device(parser, *, default="cpu", help: str = "cpu, cuda or cuda:N (default cpu)") -> None:
    """``--device NAME``, refused at once when this machine has no such device (:func:`device`)."""
    parser.add_argument("--device", type=device, default=default, help=help)


def add_threads(parser, *, default=None, help: str = "CPU threads for torch") -> None:
    """``--threads N``: torch's CPU thread count (:func:`threads`)."""
    parser.add_argument("--threads", type=threads, default=default, help=help)


def add_out_dir(parser, *, default=None, required: bool = False, help: str = "report directory") -> None:
    """``--out DIR``: a folder that is (or can be made) writable, checked before any work (:func:`writable_dir`)."""
    parser.add_argument("--out", type=writable_dir("--out"), default=default, required=required, help=help)


def backends(text: str) -> list[str]:
    """``"eager,onnxruntime"`` -> the names, each one ``archlab.runtimes.backend_names()`` knows."""
    from archlab.runtimes import backend_names

    names = [part.strip() for part in str(text).split(",") if part.strip()]
    unknown = [n for n in names if n not in backend_names()]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"{text!r}: valid backends are {', '.join(backend_names())} "
                                         f"(comma-separated where several are allowed)")
    return names


def add_backend(parser, *, several: bool = False) -> None:
    """``--backend NAME`` (or a comma list where ``several``): eager PyTorch or a deployment runtime
    (:mod:`archlab.runtimes`; ``pip install 'archlab[deploy]'``)."""
    def one(text: str) -> str:
        names = backends(text)
        if len(names) > 1:
            raise argparse.ArgumentTypeError(f"{text!r}: give one backend here")
        return names[0]

    parser.add_argument("--backend", type=backends if several else one, default=["eager"] if several else "eager",
                        help="where latency is measured: eager (PyTorch), onnxruntime or openvino (exported to ONNX "
                             "at the input size and checked against eager)" + ("; a comma list measures each" if
                                                                              several else ""))
