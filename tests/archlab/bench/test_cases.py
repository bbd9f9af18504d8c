import inspect

import pytest

import archlab
from archlab import SpecError
from archlab.bench.cases import BLOCK_NODE, EXPLICIT, BlockCase, block_case, block_cases, check_case
from archlab.registry import BlockInfo


def test_every_registered_block_has_a_case_that_validates():
    cases = block_cases()
    assert sorted(cases) == sorted(row["name"] for row in archlab.list_blocks())
    for case in cases.values():
        check_case(case)  # a SpecError would name the block's node


def test_explicit_cases_name_registered_blocks_and_say_why():
    names = {row["name"] for row in archlab.list_blocks()}
    for name, case in EXPLICIT.items():
        assert name in names and case.block == name and case.why


def test_multi_input_case_builds_its_inputs_through_the_graph():
    case = block_case("feature_fusion")
    spec = case.spec()
    assert [n.id for n in spec.nodes] == ["pool1", "conv1", BLOCK_NODE]
    assert spec.node(BLOCK_NODE).inputs == ("input", "conv1")
    shapes = archlab.validate(spec, case.input_size)
    assert shapes[BLOCK_NODE].in_channels == (64, 128) and shapes[BLOCK_NODE].in_strides == (1, 4)


def test_generic_cases():
    assert block_case("mda") == BlockCase("mda")  # one 128x32x64 input, default arguments
    assert block_case("xception_block").args == {"out_channels": 128}


def test_unknown_block_and_blocks_without_a_generic_case(monkeypatch):
    with pytest.raises(SpecError, match="unknown block 'mdaa'.*Did you mean 'mda'"):
        block_case("mdaa")

    def fake(num_inputs, **params):
        class Fake:
            pass
        Fake.num_inputs = num_inputs
        return BlockInfo("fake", Fake, params, "", num_inputs)

    for info, message in ((fake(1, kernel=inspect.Parameter.empty), "requires argument 'kernel'"),
                          (fake(3), "takes 3 inputs")):
        monkeypatch.setattr("archlab.registry.get_block", lambda name, node=None, info=info: info)
        with pytest.raises(ValueError, match=message + ".*add an explicit BlockCase"):
            block_case("fake")
