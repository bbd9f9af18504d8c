"""The structural diff on small hand-made modules: execution order, repeats, moves, unused modules."""
import torch
from torch import nn

from archlab.parity.diff import layer_type, leaf_layer_types, main_output, structural_diff, trace_layers
from archlab.blocks.conv import BatchNorm2d


class Branches(nn.Module):
    """Two parallel branches summed; ``swap`` runs them in the other order."""

    def __init__(self, swap=False, shared=False, unused=False):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(3, 8, 1, bias=False)
        self.out = self.b if shared else nn.Conv2d(8, 8, 1, bias=False)
        self.aux = nn.Linear(4, 4) if unused else None
        self.swap = swap

    def forward(self, x):
        first, second = (self.b, self.a) if self.swap else (self.a, self.b)
        y = first(x) + second(x)
        return self.out(y) if self.out is not self.b else self.b(y[:, :3])


X = torch.randn(1, 3, 8, 8)


def test_layers_in_execution_order_with_shapes():
    trace = trace_layers(Branches(swap=True), X)
    assert [layer.path for layer in trace.layers] == ["b", "a", "out"]
    conv_a = trace.layers[1]
    assert conv_a.type == "Conv2d" and conv_a.param_shapes == ((8, 3, 3, 3), (8,))
    assert conv_a.output_shape == ((1, 8, 8, 8),) and conv_a.params == 8 * 27 + 8
    assert "weight 8x3x3x3, bias 8" in conv_a.describe()


def test_a_module_called_twice_is_recorded_twice_its_parameters_once():
    trace = trace_layers(Branches(shared=True), X)
    assert [layer.path for layer in trace.layers] == ["a", "b", "b"]
    assert [layer.repeat for layer in trace.layers] == [False, False, True]
    assert sum(layer.params for layer in trace.layers) == trace.params_total


def test_reordered_branches_are_moves_not_new_layers():
    diff = structural_diff(Branches(), Branches(swap=True), X)
    assert not diff.identical and diff.reordered_only
    assert diff.params_delta == 0 == diff.explained_by_segments
    assert "run in another order" in diff.verdict()
    assert any("[runs as reference #" in line for line in diff.lines())


def test_unused_modules_explain_the_rest_of_the_difference():
    diff = structural_diff(Branches(), Branches(unused=True), X)
    assert diff.identical and diff.b.unused == {"aux": 20}
    assert diff.params_delta == -20 == diff.explained_by_unused
    text = "\n".join(diff.lines())
    assert "structurally identical: 3 layers in the same order" in text
    assert "reference: 20 params in modules that never run: aux (20)" in text


def test_settings_that_no_shape_shows_are_part_of_the_signature():
    a, b = nn.Conv2d(3, 4, 3, padding=2, dilation=2), nn.Conv2d(3, 4, 3, padding=1)
    diff = structural_diff(a, b, X)  # same parameter and output shapes, other receptive field
    assert not diff.identical and diff.settings_only and diff.segments[0].kind == "settings"
    assert "dilation 2x2" in diff.segments[0].a[0].describe()
    assert diff.settings_summary() == ["1 Conv2d layer: archlab dilation 2x2, reference PyTorch's defaults"]
    assert diff.verdict().startswith("the same 1 layer in the same order, 1 of them with other settings")
    diff = structural_diff(nn.BatchNorm2d(3), nn.BatchNorm2d(3, eps=1e-3), X)
    assert not diff.identical and "eps 0.001" in diff.segments[0].b[0].describe()
    assert "eps" not in diff.segments[0].a[0].describe()  # PyTorch's default is not spelled out


def test_types_see_through_subclasses_and_outputs_are_unwrapped():
    assert layer_type(BatchNorm2d(4)) == "BatchNorm2d" == layer_type(nn.BatchNorm2d(4))
    assert leaf_layer_types(nn.Sequential(nn.Conv2d(1, 1, 1), nn.Sequential(nn.ReLU(), nn.ReLU()))) == \
        {"Conv2d": 1, "ReLU": 2}
    t = torch.zeros(1)
    assert main_output((t, torch.ones(2))) is t and main_output({"aux": torch.ones(2), "out": t}) is t
    assert main_output([[t]]) is t and main_output("no tensor") is None


def test_modules_with_buffers_only_are_layers_too():
    plain = nn.Sequential(nn.Conv2d(3, 4, 1))
    stats = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4, affine=False))
    diff = structural_diff(plain, stats, X)
    assert [layer.path for seg in diff.segments for layer in seg.b] == ["1"]
    assert diff.segments[0].b[0].describe().startswith("BatchNorm2d(buffers 4, 4, scalar)")
    assert diff.params_delta == 0


def test_reordered_layers_are_not_paired_for_the_weights_check():
    from archlab.parity.diff import shared_weights_check

    a, b = Branches(), Branches(swap=True)
    check = shared_weights_check(a, b, structural_diff(a, b, X), X)
    assert not check.ran and "run in another order" in check.reason
    same = shared_weights_check(a, Branches(), structural_diff(a, Branches(), X), X)
    assert same.ran and same.equal and same.tensors_copied == 4  # a.weight, a.bias, b.weight, out.weight


def test_many_settings_differences_are_summarised_once():
    def net(eps):
        return nn.Sequential(*[m for _ in range(5) for m in (nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3, eps=eps))])

    diff = structural_diff(net(1e-5), net(1e-3), X)
    assert diff.settings_only and len(diff.segments) == 5
    text = diff.lines()
    assert "  5 BatchNorm2d layers: archlab PyTorch's defaults, reference eps 0.001" in text
    assert sum(line.startswith("  ") and ". settings:" in line for line in text) == 3
    assert "  … and 2 more segments (--json lists all)" in text
