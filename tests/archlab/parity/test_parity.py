"""archlab.parity on toy references written to a temporary directory.

The toy reference rebuilds a four-node archlab spec (two conv-BN-ReLU at stride 2, a 1x1
classifier, a bilinear resize to the input) with plain torch.nn, plus variants: an extra layer,
LeakyReLU instead of ReLU (same structure, other outputs), and factories that fail.
"""
import json
import subprocess
import sys
import textwrap

import pytest
import torch

import archlab
from archlab.parity import ParityError, compare
from archlab.parity.__main__ import main
from archlab.spec import Node, Spec

SIZE = (1, 3, 64, 128)

TOY = textwrap.dedent('''
    import torch
    import torch.nn.functional as F
    from torch import nn


    def _cba(cin, cout, act):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), act())


    class Toy(nn.Module):
        def __init__(self, n_classes=5, extra=False, act=nn.ReLU):
            super().__init__()
            self.features = nn.Sequential(_cba(3, 16, act), _cba(16, 32, act))
            self.extra = nn.Conv2d(32, 32, 1) if extra else None
            self.cls = nn.Conv2d(32, n_classes, 1)

        def forward(self, x):
            y = self.features(x)
            if self.extra is not None:
                y = self.extra(y)
            return (F.interpolate(self.cls(y), size=x.shape[-2:], mode="bilinear", align_corners=False),)


    class NeedsBig(nn.Module):
        def forward(self, x):
            raise ValueError(f"input {tuple(x.shape)} is smaller than 512x512")


    def build(n_classes=5):
        return Toy(n_classes)


    def build_extra():
        return Toy(extra=True)


    def build_leaky():
        return Toy(act=nn.LeakyReLU)


    def broken():
        raise RuntimeError("pretrained weights file missing")


    def not_a_module():
        return [1, 2]


    def needs_big():
        return NeedsBig()


    NOT_CALLABLE = 3
''')


@pytest.fixture()
def toy_dir(tmp_path):
    (tmp_path / "toy_ref.py").write_text(TOY)
    (tmp_path / "toy_bad_import.py").write_text("import no_such_dependency_xyz\n")
    yield tmp_path
    for name in ("toy_ref", "toy_bad_import"):
        sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def toy_spec():
    return Spec("toy", nodes=(
        Node("c1", "conv_bn_act", {"out_channels": 16, "stride": 2}, ("input",)),
        Node("c2", "conv_bn_act", {"out_channels": 32, "stride": 2}, ("c1",)),
        Node("cls", "classifier", {"num_classes": 5}, ("c2",)),
        Node("up", "resize_like", {}, ("cls", "input"))), output="up")


@pytest.fixture()
def spec_file(tmp_path, toy_spec):
    path = tmp_path / "toy.json"
    path.write_text(toy_spec.to_json())
    return path


def _ref(toy_dir, factory):
    return dict(reference_module=f"toy_ref:{factory}", reference_path=[toy_dir])


def test_identical_network_is_structurally_identical_with_equal_counts(toy_dir, toy_spec):
    result = compare(toy_spec, input_size=SIZE, latency=False, **_ref(toy_dir, "build"))
    assert result.diff.identical
    assert result.diff.verdict() == "structurally identical: 5 layers in the same order"  # 2x(conv, BN) + classifier
    table = result.table
    counters = [q for q in table.index if q.startswith(("MACs", "FLOPs"))]
    assert len(counters) >= 3 and "MACs (fvcore)" in counters  # whatever counters count() has
    # counters that see operators agree; one that matches exact module types may not see archlab's
    # BatchNorm2d subclass, and then the note says why
    assert all(table.loc[q, "same"] for q in ["parameters", "MACs (fvcore)", "FLOPs (torch)", "MACs (reconciled)",
                                              "output shape"])
    if not all(table.loc[q, "same"] for q in counters):
        assert "BatchNorm2d is archlab.blocks.conv.BatchNorm2d in archlab" in result.counters_note()
    assert table.loc["parameters", "archlab"] == sum(p.numel() for p in archlab.build(toy_spec).parameters())
    assert table.loc["output shape", "archlab"] == "1x5x64x128"
    assert table.loc["leaf layers: Conv2d", "reference"] == 3
    # the same weights give the same outputs (archlab's BN statistics randomised and copied over)
    assert result.weights.ran and result.weights.equal and result.weights.tensors_copied == 14
    assert result.weights.max_abs_diff < 1e-5 < result.weights.max_abs_output


def test_extra_layer_is_named_and_explains_the_parameter_difference(toy_dir, spec_file):
    result = compare(str(spec_file), input_size=SIZE, latency=False, **_ref(toy_dir, "build_extra"))
    diff = result.diff
    assert not diff.identical and len(diff.segments) == 1
    seg = diff.segments[0]
    assert seg.kind == "only reference" and not seg.a
    assert [layer.path for layer in seg.b] == ["extra"]
    extra = 32 * 32 + 32
    assert seg.params_delta == -extra
    assert diff.params_delta == -extra == result.table.loc["parameters", "difference"]
    assert diff.explained_by_segments == -extra and diff.unexplained == 0
    text = "\n".join(result.lines())
    assert "only reference" in text and "at extra" in text and "-1,056" in text
    assert "not run: the structures differ" in text


def test_same_structure_other_activation_fails_the_same_weights_check(toy_dir, toy_spec):
    result = compare(toy_spec, input_size=SIZE, latency=False, **_ref(toy_dir, "build_leaky"))
    assert result.diff.identical  # activations own no parameters: the structure cannot see them ...
    assert result.weights.ran and not result.weights.equal  # ... the outputs do
    assert "OUTPUTS DIFFER" in result.weights.verdict()
    # the first conv and BN agree; the second conv is the first layer fed by a LeakyReLU
    first = result.weights.first_difference
    assert (first["index"], first["archlab"], first["reference"]) == (2, "nodes.c2.0", "features.1.0")


def test_output_shape_mismatch_is_allowed_when_asked(toy_spec):
    from torch import nn

    class NoResize(nn.Module):  # archlab's own layers, without the final resize
        def __init__(self):
            super().__init__()
            a = archlab.build(toy_spec)
            self.c1, self.c2, self.cls = a.nodes["c1"], a.nodes["c2"], a.nodes["cls"]

        def forward(self, x):
            return self.cls(self.c2(self.c1(x)))

    with pytest.raises(ParityError, match="its output is 1x5x16x32 but archlab's toy gives 1x5x64x128"):
        compare(toy_spec, NoResize(), input_size=SIZE, latency=False)
    result = compare(toy_spec, NoResize(), input_size=SIZE, latency=False, allow_shape_mismatch=True)
    assert result.diff.identical  # same layers, same order: only the resize differs (it owns no parameters)
    assert not result.table.loc["output shape", "same"]
    assert result.weights.reason == "the output shapes differ"


def test_module_reference_and_interleaved_latency(toy_spec):
    model = archlab.build(toy_spec)
    result = compare(toy_spec, model, input_size=SIZE, latency_size=(32, 64), rounds=2, forwards=2, warmup=1,
                     threads=1)
    lat = result.latency
    assert lat.rounds == 2 and len(lat.ratios) == 2 and lat.threads == 1
    assert lat.ratio_min <= lat.ratio_median <= lat.ratio_max
    assert sorted(lat.orders) == ["ab", "ba"]  # each side went first once
    assert result.table.loc["latency (eager, median)", "ratio"] == lat.ratio_median
    assert lat.input_size == (1, 3, 32, 64)
    assert result.diff.identical and result.weights.equal
    assert model.training  # compare leaves the module's mode as it was


@pytest.mark.parametrize(("argv", "named", "says"), [
    (["--reference", "toy_ref"], "--reference 'toy_ref'", "expected PKG.MODULE:FACTORY"),
    (["--reference", "toy-ref:build"], "--reference 'toy-ref:build'", "dotted Python names"),
    (["--reference", "no_such_module_xyz:build"], "--reference 'no_such_module_xyz:build'",
     "no module named 'no_such_module_xyz'"),
    (["--reference", "toy_bad_import:build"], "--reference 'toy_bad_import:build'", "no_such_dependency_xyz"),
    (["--reference", "toy_ref:buld"], "--reference 'toy_ref:buld'", "Did you mean 'build'"),
    (["--reference", "toy_ref:NOT_CALLABLE"], "--reference 'toy_ref:NOT_CALLABLE'", "not callable"),
    (["--reference", "toy_ref:broken"], "--reference 'toy_ref:broken'",
     "raised RuntimeError: pretrained weights file missing"),
    (["--reference", "toy_ref:not_a_module"], "--reference 'toy_ref:not_a_module'", "returned a list"),
    (["--reference", "toy_ref:build", "--reference-kwargs", "{n_classes: 5}"], "--reference-kwargs", "not JSON"),
    (["--reference", "toy_ref:build", "--reference-kwargs", "[5]"], "--reference-kwargs", "expected an object"),
    (["--reference", "toy_ref:build", "--reference-kwargs", '{"classes": 5}'], "--reference 'toy_ref:build'",
     "unexpected keyword argument 'classes'"),
    (["--reference", "toy_ref:build", "--reference-kwargs", '{"n_classes": 7}'], "--reference 'toy_ref:build'",
     "its output is 1x7x64x128 but archlab's toy gives 1x5x64x128"),
    (["--reference", "toy_ref:needs_big"], "--size '64x128'", "ValueError: input (1, 3, 64, 128) is smaller"),
])
def test_cli_errors_exit_2_with_one_line_naming_the_argument(toy_dir, spec_file, capsys, argv, named, says):
    code = main([str(spec_file), "--reference-path", str(toy_dir), "--size", "64x128", "--no-latency", *argv])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2
    assert err.startswith(f"python -m archlab.parity: error: {named}") and says in err, err
    assert "Traceback" not in err


def test_cli_errors_for_model_and_path(toy_dir, tmp_path, capsys):
    assert main(["fast_scn", "--reference", "toy_ref:build", "--reference-path", str(toy_dir), "--no-latency"]) == 2
    err = capsys.readouterr().err
    assert "MODEL 'fast_scn'" in err and "Did you mean 'fast_scnn'" in err
    assert main([str(tmp_path / "missing.json"), "--reference", "toy_ref:build", "--no-latency"]) == 2
    assert "no such spec file" in capsys.readouterr().err
    assert main(["fast_scnn", "--reference", "toy_ref:build", "--reference-path", str(tmp_path / "nope"),
                 "--no-latency"]) == 2
    err = capsys.readouterr().err
    assert "--reference-path" in err and "is not a directory" in err
    assert main(["fast_scnn", "--reference", "toy_ref:build", "--reference-path", str(toy_dir), "--size", "100x100",
                 "--no-latency"]) == 2
    assert "--size '100x100': archlab's model cannot run at this size" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["fast_scnn", "--reference", "toy_ref:build", "--size", "big"])
    assert exc.value.code == 2 and "argument --size: 'big'" in capsys.readouterr().err


def test_api_errors_name_the_parameter(toy_spec):
    with pytest.raises(ParityError, match=r"^reference_module 'nope': expected PKG.MODULE:FACTORY"):
        compare(toy_spec, "nope", input_size=SIZE, latency=False)
    with pytest.raises(ParityError, match=r"^input_size"):
        compare(toy_spec, torch.nn.Identity(), input_size=(1, 3, 0, 5), latency=False)


def test_markdown_upsert_keeps_other_sections(toy_dir, spec_file, tmp_path, capsys):
    report = tmp_path / "parity.md"
    base = [str(spec_file), "--reference-path", str(toy_dir), "--size", "64x128", "--no-latency",
            "--markdown", str(report)]
    assert main(base + ["--reference", "toy_ref:build"]) == 0
    assert main(["fast_scnn", "--reference", "toy_ref:build", "--reference-kwargs", '{"n_classes": 19}',
                 "--reference-path", str(toy_dir), "--size", "64x128", "--no-latency", "--allow-shape-mismatch",
                 "--markdown", str(report)]) == 0
    text = report.read_text()
    assert text.count("<!-- archlab-parity:section toy -->") == 1 and "## fast_scnn — reference" in text
    assert "structurally identical: 5 layers" in text
    # a note added by hand, then the toy model's section rewritten with another reference
    report.write_text(text.replace("<!-- /archlab-parity:header -->",
                                   "<!-- /archlab-parity:header -->\n\nHand-written note on the checkout."))
    assert main(base + ["--reference", "toy_ref:build_extra"]) == 0
    text = report.read_text()
    assert text.count("<!-- archlab-parity:section toy -->") == 1
    assert text.count("<!-- archlab-parity:section fast_scnn -->") == 1
    assert "toy_ref:build_extra" in text and "## toy — reference `toy_ref:build`" not in text
    assert "Hand-written note on the checkout." in text
    assert "| parameters | count |" in text and "| MACs (fvcore) | GMACs at 1x3x64x128 |" in text
    assert f"python -m archlab.parity {spec_file}" in text and "torch " in text
    assert not list(tmp_path.glob(".parity.md.*"))  # no temporary file left behind


def _run_cli(args):
    return subprocess.run([sys.executable, "-m", "archlab.parity", *args], capture_output=True, text=True,
                          timeout=300)


def test_cli_end_to_end_json_without_latency(toy_dir, spec_file):
    done = _run_cli([str(spec_file), "--reference", "toy_ref:build_extra", "--reference-path", str(toy_dir),
                     "--size", "64x128", "--no-latency", "--json"])
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["structure"]["identical"] is False and out["structure"]["params_delta"] == -1056
    assert out["structure"]["segments"][0]["b"][0]["path"] == "extra"
    assert out["output_shape_same"] is True and out["latency"] is None
    assert out["counts"]["archlab"]["macs_fvcore"] < out["counts"]["reference"]["macs_fvcore"]
    assert out["settings"]["command"].startswith("python -m archlab.parity ")


def test_cli_end_to_end_with_latency(toy_dir, spec_file):
    done = _run_cli([str(spec_file), "--reference", "toy_ref:build", "--reference-path", str(toy_dir),
                     "--size", "64x128", "--latency-size", "32x64", "--rounds", "2", "--forwards", "2",
                     "--warmup", "1", "--threads", "1"])
    assert done.returncode == 0, done.stderr
    assert "structurally identical: 5 layers in the same order" in done.stdout
    assert "outputs agree" in done.stdout
    assert "latency (eager, median)" in done.stdout and "2 interleaved rounds of 2 forwards" in done.stdout
    assert "1 thread," in done.stdout
