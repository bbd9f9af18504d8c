"""Deployment runtimes: exact export of adaptive pools, every zoo model in ONNX Runtime and OpenVINO, clear errors."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import archlab
from archlab.runtimes import BackendError, deploy, exact_adaptive_pools
from archlab.runtimes.backends import BACKENDS
from archlab.runtimes.export import linear_adaptive_avg_pool2d, pool_matrix


@pytest.mark.parametrize("n, m", [(8, 3), (8, 6), (4, 3), (7, 2), (5, 5), (64, 6), (3, 6)])
def test_the_linear_adaptive_pool_is_pytorchs_pool(n, m):
    x = torch.randn(2, 4, n, n + 3, dtype=torch.float64)
    ours = linear_adaptive_avg_pool2d(x, (m, m + 1))
    assert torch.allclose(ours, F.adaptive_avg_pool2d(x, (m, m + 1)), rtol=0, atol=1e-12)
    assert torch.allclose(pool_matrix(n, m).sum(1), torch.ones(m))


def test_only_pools_whose_sizes_do_not_divide_are_rewritten():
    x = torch.randn(1, 2, 8, 16)
    with exact_adaptive_pools() as mode:
        a = F.adaptive_avg_pool2d(x, 2)          # divides: left to PyTorch
        b = nn.AdaptiveAvgPool2d(3)(x)           # does not: rewritten
    assert mode.rewritten == 1
    assert torch.allclose(a, F.adaptive_avg_pool2d(x, 2)) and torch.allclose(b, F.adaptive_avg_pool2d(x, 3), atol=1e-6)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("name", archlab.list_models())
def test_every_zoo_model_runs_in_every_cpu_runtime_as_in_eager(name, backend):
    torch.manual_seed(0)
    model = archlab.create_model(name).eval()
    x = torch.randn(1, 3, *archlab.graph.small_input_size(archlab.get_spec(name)))
    deployed = deploy(model, x, backend, threads=1)
    assert deployed.info["backend"] == backend and deployed.info["max_abs_error"] <= 1e-3
    with torch.inference_mode():
        assert torch.allclose(deployed(x), model(x), atol=1e-3 * max(1.0, model(x).abs().max().item()))
    if name == "fast_scnn":
        assert deployed.info["adaptive_pools_rewritten"] >= 1     # PPM's 3 and 6 bins on a small map


def test_a_network_that_disagrees_with_eager_is_an_error(monkeypatch):
    backend = BACKENDS["onnxruntime"]
    real = type(backend).compile

    def off_by_one(self, path, shape, threads):
        run = real(self, path, shape, threads)
        return lambda array: run(array) + 1.0

    monkeypatch.setattr(type(backend), "compile", off_by_one)
    with pytest.raises(BackendError, match="differs from eager PyTorch by up to 1"):
        deploy(archlab.create_model("fast_scnn"), torch.randn(1, 3, 64, 128), "onnxruntime")


def test_errors_name_the_backend_and_the_fix(monkeypatch):
    with pytest.raises(BackendError, match="unknown backend 'tensorrtt'; valid: eager, onnxruntime, openvino"):
        deploy(nn.Identity(), torch.randn(1, 3, 8, 8), "tensorrtt")
    import builtins

    real_import = builtins.__import__

    def no_openvino(name, *args, **kwargs):
        if name == "openvino":
            raise ImportError("no")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_openvino)
    monkeypatch.setattr("importlib.import_module", lambda name: no_openvino(name))
    with pytest.raises(BackendError, match=r"needs the package 'openvino': pip install 'archlab\[deploy\]'"):
        deploy(nn.Identity(), torch.randn(1, 3, 8, 8), "openvino")


def test_a_deployed_network_refuses_another_input_size():
    deployed = deploy(archlab.create_model("fast_scnn"), torch.randn(1, 3, 64, 128), "onnxruntime")
    with pytest.raises(BackendError, match=r"built for input \(1, 3, 64, 128\), got \(1, 3, 128, 256\)"):
        deployed(torch.randn(1, 3, 128, 256))


def test_profile_measures_a_runtime_and_records_it():
    record = archlab.profile("fast_scnn", (1, 3, 64, 128), backend="onnxruntime", runs=2, warmup=1, threads=1).record
    assert record["backend"] == "onnxruntime" and record["backend_version"] and record["opset"] == 17
    assert record["latency_ms_median"] > 0 and record["max_abs_error"] <= 1e-3 and "peak_mem_mb" not in record


def test_a_runtime_refuses_other_dtypes_with_a_clear_message():
    with pytest.raises(ValueError, match="backend 'openvino' runs the exported fp32 network"):
        archlab.profile("fast_scnn", (1, 3, 64, 128), backend="openvino", dtype="bf16", runs=1, warmup=0)


def test_the_profile_cli_compares_backends_in_one_run(tmp_path, capsys):
    from archlab.profile.__main__ import main

    assert main(["fast_scnn", "--size", "64x128", "--backend", "eager,onnxruntime", "--runs", "2", "--warmup", "1",
                 "--threads", "1", "--no-memory", "--report", str(tmp_path / "r")]) == 0
    text = (tmp_path / "r.md").read_text()
    assert "| fast_scnn | fp32 | off |" in text and "| fast_scnn | fp32 | onnxruntime" in text
    assert "Fastest per model in this run: fast_scnn (1x3x64x128):" in text
    with pytest.raises(SystemExit):
        main(["fast_scnn", "--backend", "tensorrtt"])
    assert "valid backends are eager, onnxruntime, openvino" in capsys.readouterr().err


def test_a_study_times_its_variants_in_a_runtime(tmp_path):
    from archlab.study import Study, Variant, width
    from archlab.study.runner import StudySettings, run_study

    study = Study(name="rt", title="rt", base="fast_scnn", baseline="full", size=(64, 128),
                  variants=(Variant("full"), Variant("half", (width(0.5),))), latency_runs=2, latency_warmup=0)
    frame = run_study(study, StudySettings(train=False, threads=1, backend="openvino"), out=tmp_path)
    assert set(frame["backend"]) == {"openvino"} and (frame["max_abs_error"] <= 1e-3).all()
    assert frame["fps_ratio"].notna().all()
