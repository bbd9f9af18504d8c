"""Property: random transforms of zoo specs either build and run, or raise archlab's SpecError.

In CI (``CI=true``) the examples are derandomised so a landing never depends on luck; locally
they are random. ``ARCHLAB_PROPERTY_EXAMPLES=500`` searches harder."""
import inspect
import os

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archlab
from archlab import SpecError, transforms
from archlab.graph import small_input_size
from archlab.registry import get_block

MODELS = archlab.list_models()
CONTEXT_BLOCKS = ["dapf", "aspp", "ppm", "identity", "mda", "conv_bn_act"]


@st.composite
def transform_steps(draw):
    steps = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["replace_block", "remove", "width", "depth", "alpha", "mutate_arg"]))
        if kind in ("width", "depth"):
            steps.append((kind, draw(st.floats(0.25, 1.5))))
        elif kind == "alpha":
            steps.append((kind, draw(st.sampled_from([0.5, 1, 2, 3, 4, 8, 1000]))))
        elif kind == "replace_block":
            steps.append((kind, draw(st.integers(0, 10_000)), draw(st.sampled_from(CONTEXT_BLOCKS))))
        elif kind == "remove":
            steps.append((kind, draw(st.integers(0, 10_000))))
        else:
            steps.append((kind, draw(st.integers(0, 10_000)), draw(st.integers(0, 10_000)),
                          draw(st.one_of(st.integers(-2, 64), st.sampled_from([None, "x", [1, 2], 0.5])))))
    return steps


def apply(spec, step):
    kind = step[0]
    if kind == "width":
        return transforms.scale_width(spec, step[1])
    if kind == "depth":
        return transforms.scale_depth(spec, step[1])
    if kind == "alpha":
        return transforms.set_alpha(spec, step[1])
    node = spec.nodes[step[1] % len(spec.nodes)]
    if kind == "replace_block":
        return transforms.replace(spec, node.id, block=step[2])
    if kind == "remove":
        return transforms.remove(spec, node.id)
    params = list(get_block(node.block).parameters)
    if not params:
        return spec
    name = params[step[2] % len(params)]
    return transforms.replace(spec, node.id, **{name: step[3]})


@settings(max_examples=int(os.environ.get("ARCHLAB_PROPERTY_EXAMPLES", 40)), deadline=None,
          derandomize=os.environ.get("CI") == "true", suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(MODELS), steps=transform_steps())
def test_random_transforms_build_and_run_or_raise_spec_error(name, steps):
    try:
        spec = archlab.get_spec(name, num_classes=3)
        for step in steps:
            spec = apply(spec, step)
        model = archlab.build(spec).eval()
        with torch.inference_mode():
            y = model(torch.randn(1, 3, *small_input_size(spec)))
    except SpecError as exc:
        assert str(exc)  # archlab's own error, with a message
        return
    assert y.shape[0] == 1 and y.ndim == 4


def test_the_property_test_reaches_both_outcomes():
    spec = archlab.get_spec("fassd_net")
    ok = transforms.replace(spec, "context", block="aspp")
    archlab.build(ok)
    try:
        archlab.build(transforms.replace(spec, "enc1", out_channels=-2))
    except SpecError as exc:
        assert "enc1" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("negative channels must be a SpecError")
    assert inspect.isfunction(apply)
