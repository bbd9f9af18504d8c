"""Bad command-line input: exit status 2 and one message naming the argument, never a traceback.

Each case once ended in a raw traceback or a silently accepted bad value (the bad-input review of
the command lines). Argument types are checked before any work, so these run in milliseconds.
"""
import importlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archlab import cli

CASES = [  # (module, argv, what the message must say)
    ("archlab.profile", ["fast_scnn", "--device", "cuda"], "argument --device: device 'cuda' is not available"),
    ("archlab.study", ["dapf_vs_aspp", "--device", "cuda"], "argument --device: device 'cuda' is not available"),
    ("archlab.search", ["search_fassd", "--device", "cuda"], "argument --device: device 'cuda' is not available"),
    ("archlab.proxies", ["correlate", "search_fassd", "--device", "cuda"], "argument --device"),
    ("archlab.evaluate", ["run", "--device", "cuda"], "argument --device"),
    ("archlab.train", ["fast_scnn", "--device", "tpu"], "argument --device: unknown device 'tpu'"),
    ("archlab.evaluate", ["run", "--device", "tpu"], "argument --device: unknown device 'tpu'"),
    ("archlab.profile", ["fast_scnn", "--device", "cuda:7"], "argument --device"),
    ("archlab.profile", ["fast_scnn", "--runs", "0"], "argument --runs: 0 is out of range"),
    ("archlab.profile", ["fast_scnn", "--threads", "0"], "argument --threads: 0 is out of range"),
    ("archlab.profile", ["fast_scnn", "--warmup", "-1"], "argument --warmup"),
    ("archlab.profile", ["fast_scnn", "--batch", "x"], "argument --batch: 'x' is not an integer"),
    ("archlab.profile", ["fast_scnn", "--size", "100000x2"], "argument --size: '100000x2': sides above 8192"),
    ("archlab.profile", ["fast_scnn", "--size", "0x10"], "argument --size"),
    ("archlab.profile", ["fast_scnn", "--size", "big"], "argument --size: 'big' is not HxW"),
    ("archlab.profile", ["fast_scnn", "--width", "-1"], "argument --width"),
    ("archlab.profile", ["fast_scnn", "--report", "/proc/no/report"], "argument --report: --report '/proc/no/report' "
                                                                      "cannot be written"),
    ("archlab.study", ["dapf_vs_aspp", "--threads", "0"], "argument --threads"),
    ("archlab.study", ["dapf_vs_aspp", "--runs", "0"], "argument --runs"),
    ("archlab.study", ["dapf_vs_aspp", "--out", "/proc/no/study"], "argument --out"),
    ("archlab.study", ["dapf_vs_aspp", "--budget", "device=tpu"], "set it with --device instead"),
    ("archlab.study", ["dapf_vs_aspp", "--budget", "scale=0.5"], "--budget scale='0.5' is not a valid LOW,HIGH"),
    ("archlab.study", ["dapf_vs_aspp", "--budget", "steps=0"], "training setting steps=0"),
    ("archlab.study", ["dapf_vs_aspp", "--budget", "bogus=1"], "--budget item 'bogus=1'"),
    ("archlab.study", ["dapf_vs_aspp", "--budget", "flip=maybe"], "--budget flip='maybe'"),
    ("archlab.search", ["search_fassd", "--max-retry", "-1"], "argument --max-retry"),
    ("archlab.search", ["search_fassd", "--trials", "0"], "argument --trials"),
    ("archlab.search", ["search_fassd", "--workers", "0"], "argument --workers"),
    ("archlab.search", ["search_fassd", "--timeout", "-5"], "argument --timeout"),
    ("archlab.search", ["search_fassd", "--latency-budget", "nan"], "argument --latency-budget"),
    ("archlab.proxies", ["correlate", "search_fassd", "--proxy-batch", "0"], "argument --proxy-batch"),
    ("archlab.proxies", ["correlate", "search_fassd", "--samples", "0"], "argument --samples"),
    ("archlab.train", ["fast_scnn", "--eval-length", "0"], "argument --eval-length"),
    ("archlab.train", ["fast_scnn", "--steps", "0"], "argument --steps"),
    ("archlab.train", ["fast_scnn", "--lr", "0"], "argument --lr"),
    ("archlab.train", ["fast_scnn", "--amp", "fp16", "--steps", "1"], "training setting amp='fp16': mixed precision "
                                                                      "runs on CUDA only"),
    ("archlab.train", ["fast_scnn", "--depth", "1e6", "--steps", "1"], "depth=1000000.0 is above the limit of 8"),
    ("archlab.train", ["fast_scnn", "--out", "/proc/no/run"], "argument --out"),
    ("archlab.evaluate", ["run", "--length", "0"], "argument --length"),
    ("archlab.evaluate", ["run", "--figure", "/proc/no/fig.png"], "argument --figure"),
    ("archlab.zoo", ["--markdown", "/proc/no/zoo.md"], "argument --markdown"),
    ("archlab.zoo", ["--size", "1x"], "argument --size"),
    ("archlab.pareto", ["x.csv", "--x", "a", "--y", "b", "--out", "/proc/no/p.png"], "argument --out"),
]


def _main(module: str):
    name = module if module in ("archlab.evaluate", "archlab.pareto") else module + ".__main__"
    return importlib.import_module(name).main


@pytest.mark.parametrize("module, argv, message", CASES, ids=[" ".join([m.split(".")[-1]] + a) for m, a, _ in CASES])
def test_a_bad_argument_exits_2_naming_it(module, argv, message, capsys):
    try:
        code = _main(module)(argv)
    except SystemExit as exc:          # argparse's own exit on a bad argument
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err, err
    assert "Traceback" not in err


TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(size=TEXT, device=TEXT, count=TEXT)
def test_fuzzed_argument_values_are_parsed_or_refused_with_a_message(size, device, count):
    import argparse

    for parse, value in ((cli.parse_size, size), (cli.device, device), (cli.positive_int, count),
                         (cli.threads, count), (cli.positive_float, count), (cli.non_negative_int, count)):
        try:
            parse(value)
        except argparse.ArgumentTypeError as exc:
            assert str(exc)
