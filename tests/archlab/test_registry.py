"""Registering blocks from outside archlab, and the block contract checked at registration and build."""
import pytest
import torch
from torch import nn

import archlab
from archlab.errors import BlockContractError, SpecError
from archlab.registry import _REGISTRY, check_contract, get_block


@pytest.fixture
def clean_registry():
    before = dict(_REGISTRY.blocks())
    yield
    _REGISTRY._blocks = before


def _spec(block, **args):
    return archlab.Spec(name="user", in_channels=3, nodes=(
        archlab.Node("stem", "conv_bn_act", {"out_channels": 8, "stride": 2}),
        archlab.Node("mine", block, args, inputs=("stem",)),
        archlab.Node("head", "conv_bn_act", {"out_channels": 4, "kernel_size": 1}, inputs=("mine",)),
    ), output="head")


def test_a_decorated_block_is_listed_and_builds(clean_registry):
    @archlab.register_block("tiny_gate", paper="Nobody, A Gate, Nowhere 2026, Sec. 1")
    class TinyGate(nn.Module):
        def __init__(self, in_channels, reduction: int = 2):
            super().__init__()
            self.out_channels, self.stride = in_channels, 1
            self.fc = nn.Conv2d(in_channels, in_channels, 1)

        def forward(self, x):
            return x * torch.sigmoid(self.fc(x.mean((2, 3), keepdim=True)))

    assert TinyGate.paper.startswith("Nobody") and get_block("tiny_gate").cls is TinyGate
    row = next(r for r in archlab.list_blocks() if r["name"] == "tiny_gate")
    assert row["parameters"] == {"reduction": 2} and row["source"] == __name__
    assert archlab.build(_spec("tiny_gate"))(torch.randn(1, 3, 32, 64)).shape == (1, 4, 16, 32)


def test_a_block_without_paper_or_in_channels_is_refused_at_registration(clean_registry):
    class NoPaper(nn.Module):
        def __init__(self, in_channels):
            super().__init__()

    with pytest.raises(BlockContractError, match=r"block 'no_paper' \('.*NoPaper'\): has no 'paper' attribute"):
        archlab.register_block("no_paper", NoPaper)

    class WrongFirst(nn.Module):
        paper = "x"

        def __init__(self, channels):
            super().__init__()

    with pytest.raises(BlockContractError, match=r"block 'wrong_first' .*'in_channels' as its first argument, "
                                                 r"takes 'channels'"):
        archlab.register_block("wrong_first", WrongFirst)
    with pytest.raises(BlockContractError, match="not a torch.nn.Module subclass"):
        archlab.register_block("not_a_module", object)
    with pytest.raises(BlockContractError, match="expected lower-case letters"):
        check_contract("Bad Name", WrongFirst)


def test_a_name_taken_by_archlab_cannot_be_registered_again(clean_registry):
    class Imposter(nn.Module):
        paper = "x"

        def __init__(self, in_channels):
            super().__init__()

    with pytest.raises(BlockContractError, match="'conv_bn_act' is already registered by archlab"):
        archlab.register_block("conv_bn_act", Imposter)


def test_a_block_without_out_channels_fails_when_built_naming_node_and_attribute(clean_registry):
    @archlab.register_block("forgetful", paper="x")
    class Forgetful(nn.Module):
        def __init__(self, in_channels):
            super().__init__()
            self.stride = 1

        def forward(self, x):
            return x

    with pytest.raises(BlockContractError, match=r"node 'mine': block 'forgetful' .* has no attribute "
                                                 r"'out_channels' after __init__"):
        archlab.validate(_spec("forgetful"))


def test_a_block_that_lies_about_its_stride_fails_validation_naming_the_node(clean_registry):
    @archlab.register_block("secret_pool", paper="x")
    class SecretPool(nn.Module):
        def __init__(self, in_channels):
            super().__init__()
            self.out_channels, self.stride = in_channels, 1   # says 1, but halves the map

        def forward(self, x):
            return nn.functional.max_pool2d(x, 2)

    with pytest.raises(SpecError, match=r"node 'mine': block 'secret_pool' is \d+x\d+ on a \d+x\d+ input, but its "
                                        r"stride says 1/2 of it \(16x32\): its stride attribute does not match"):
        archlab.validate(_spec("secret_pool"))


def test_every_shipped_block_keeps_the_contract():
    for info in _REGISTRY.blocks().values():
        assert check_contract(info.name, info.cls).paper and info.source == "archlab"


def test_an_entry_point_contributes_blocks(clean_registry, tmp_path, monkeypatch):
    """An installed package's ``archlab.blocks`` entry point is read on the registry's first use."""
    from importlib.metadata import EntryPoint

    (tmp_path / "plugin_blocks.py").write_text(
        "from torch import nn\n"
        "class Echo(nn.Module):\n"
        "    paper = 'Plug-in, Echo, 2026'\n"
        "    def __init__(self, in_channels):\n"
        "        super().__init__(); self.out_channels, self.stride = in_channels, 1\n"
        "    def forward(self, x):\n"
        "        return x\n"
        "BLOCKS = {'plugin_echo': Echo}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    point = EntryPoint(name="echo", value="plugin_blocks", group="archlab.blocks")
    monkeypatch.setattr("archlab.registry.entry_points", lambda group: [point] if group == "archlab.blocks" else [])
    _REGISTRY._blocks, _REGISTRY._loaded = {}, False
    assert "entry point 'echo'" in get_block("plugin_echo").source
    assert get_block("conv_bn_act").source == "archlab"
