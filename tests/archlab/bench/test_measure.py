import json
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

import archlab
from archlab import SpecError
from archlab.bench import benchmark_block, benchmark_module, benchmark_spec, block_case


class FakeBenchmark:
    """pytest-benchmark's fixture in miniature: three timed calls, or one when disabled."""

    def __init__(self, disabled=False):
        self.disabled, self.extra_info, self.group, self.settings = disabled, {}, None, []

    def __call__(self, fn, *args, **kwargs):
        for _ in range(1 if self.disabled else 3):
            out = fn(*args, **kwargs)
            self.settings.append((torch.get_num_threads(), torch.is_inference_mode_enabled()))
        return out


class Counting(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.calls = []

    def forward(self, x):
        self.calls.append((self.training, torch.is_inference_mode_enabled()))
        return self.conv(x)


def test_benchmark_module_settings_and_extra_info():
    module, bench = Counting().train(), FakeBenchmark()
    threads_before = torch.get_num_threads()
    out = benchmark_module(bench, module, torch.randn(1, 3, 16, 16), threads=1, warmup=2, group="mine")
    assert out.shape == (1, 8, 16, 16)
    assert bench.settings == [(1, True)] * 3  # fixed threads, inference mode in every timed call
    calls = module.calls[-5:]  # 2 warm-up calls, then 3 timed ones (fvcore's trace came before)
    assert calls == [(False, True)] * 5
    assert module.training and torch.get_num_threads() == threads_before  # both restored
    info = bench.extra_info
    assert info["params"] == 3 * 8 * 9 + 8 and info["macs_fvcore"] == 8 * 16 * 16 * 3 * 9
    assert (info["device"], info["threads"], info["input_size"], info["batch"]) == ("cpu", 1, "1x3x16x16", 1)
    assert info["warmup"] == 2 and info["torch"] == torch.__version__ and info["device_name"]
    assert set(info["sources"]) >= {"archlab", "archlab.blocks"} and bench.group == "mine"


def test_disabled_benchmark_is_one_call_without_warmup_or_counting():
    module, bench = Counting(), FakeBenchmark(disabled=True)
    benchmark_module(bench, module, (torch.randn(1, 3, 8, 8),), warmup=5, macs="fvcore")
    assert len(module.calls) == 1 and bench.extra_info["macs_fvcore"] is None


def test_benchmark_module_errors():
    with pytest.raises(ValueError, match="pytest-benchmark's `benchmark` fixture"):
        benchmark_module(object(), Counting(), torch.randn(1, 3, 8, 8))
    with pytest.raises(ValueError, match="threads=0"):
        benchmark_module(FakeBenchmark(), Counting(), torch.randn(1, 3, 8, 8), threads=0)
    with pytest.raises(ValueError, match="inputs must be a tensor"):
        benchmark_module(FakeBenchmark(), Counting(), [1, 2])
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="torch.cuda.is_available\\(\\) is False"):
            benchmark_module(FakeBenchmark(), Counting(), torch.randn(1, 3, 8, 8), device="cuda")


def test_benchmark_spec_records_the_spec():
    bench = FakeBenchmark()
    spec = archlab.transforms.replace(archlab.get_spec("fast_scnn"), "ffm", dilation=2)
    out = benchmark_spec(bench, spec, (64, 128), warmup=0)
    assert out.shape == (1, 19, 64, 128)
    info = bench.extra_info
    assert info["spec"] == "fast_scnn" and info["spec_hash"] == spec.content_hash()[:16]
    assert info["input_size"] == "1x3x64x128" and info["macs_fvcore"] > 0 and bench.group == "spec"
    with pytest.raises(SpecError, match="multiples of 32"):
        benchmark_spec(FakeBenchmark(), "fast_scnn", (1, 3, 100, 100))


def test_benchmark_block_times_the_block_alone_on_its_inputs():
    bench = FakeBenchmark()
    out = benchmark_block(bench, "feature_fusion", warmup=0)
    assert out.shape == (1, 128, 32, 64)
    info = bench.extra_info
    assert info["block"] == "feature_fusion" and info["input_size"] == "1x64x32x64,1x128x8x16"
    ffm = archlab.build(block_case("feature_fusion").spec()).nodes["block"]
    assert info["params"] == sum(p.numel() for p in ffm.parameters())
    assert info["macs_fvcore"] > 0 and bench.group == "block"


def test_plugin_fixture_on_a_users_own_variant(tmp_path):
    """A user's test file with the bench_spec fixture, run for real: the JSON carries the command,
    the settings and extra_info."""
    (tmp_path / "test_variant.py").write_text(textwrap.dedent('''\
        import archlab

        def test_dilated_ffm_variant(bench_spec):
            spec = archlab.transforms.replace(archlab.get_spec("fast_scnn"), "ffm", dilation=2)
            bench_spec(spec, (1, 3, 64, 128))
    '''))
    out = tmp_path / "out.json"
    cmd = [sys.executable, "-m", "pytest", "test_variant.py", "-q", "-p", "no:cacheprovider", "-p",
           "archlab.bench.plugin", "--benchmark-enable", f"--benchmark-json={out}", "--benchmark-max-time=0.05",
           "--bench-threads", "1", "--bench-warmup", "1", "-p", "no:hypothesispytest"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    assert list(data)[0] == "command" and "--bench-threads 1" in data["command"]
    assert data["machine_info"]["torch"] == torch.__version__
    assert data["machine_info"]["archlab_bench"] == {"threads": 1, "device": "cpu", "warmup": 1}
    (bench,) = data["benchmarks"]
    assert bench["extra_info"]["threads"] == 1 and bench["extra_info"]["macs_fvcore"] > 0
    assert bench["stats"]["rounds"] >= 5 and bench["group"] == "spec"
