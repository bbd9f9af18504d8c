"""What each registered block is benchmarked on: its arguments and its inputs.

A :class:`BlockCase` describes one block benchmark as a small spec: the image ``"input"`` of
``channels`` x ``size`` feeds the block directly, or through preparation nodes (an average
``pool`` for a lower resolution, a 1x1 ``conv_bn_act`` for other channels) when the block takes
several inputs at different sizes. Building the case through the block graph means argument
defaults, validation and shape inference are the ones a real spec gets; only the block node
itself is timed (see :func:`archlab.bench.measure.benchmark_block`).

The typical size is a feature map at 1/8 of a 256x512 image with 128 channels (32x64). Blocks
that need something else have an explicit entry in :data:`EXPLICIT` saying why: stems take the
image, multi-input blocks take inputs at their usual relative resolutions, and a few blocks
require an argument. A registered block with neither a generic case nor an explicit one raises
an error naming it, so nothing is skipped silently.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from archlab.errors import SpecError
from archlab.spec import INPUT, Node, Spec

FEATURE_CHANNELS = 128
FEATURE_SIZE = (32, 64)  # 1/8 of a 256x512 image
IMAGE_SIZE = (256, 512)
BLOCK_NODE = "block"


@dataclass(frozen=True)
class BlockCase:
    """One block benchmark: the block, its arguments, and its inputs.

    ``channels`` x ``size`` is the spec's image input. ``inputs`` lists the block's inputs as
    ``(channels, downscale)``: ``channels=None`` means the image input's channels, ``downscale``
    divides ``size`` (an average pool makes it). ``why`` says why a case is not the generic one.
    """

    block: str
    args: dict = field(default_factory=dict)
    channels: int = FEATURE_CHANNELS
    size: tuple[int, int] = FEATURE_SIZE
    inputs: tuple[tuple[int | None, int], ...] = ((None, 1),)
    why: str = ""

    @property
    def input_size(self) -> tuple[int, int, int, int]:
        """The spec's input, (1, C, H, W)."""
        return (1, self.channels) + tuple(self.size)

    def spec(self) -> Spec:
        """A spec whose output is the block node, fed by preparation nodes where needed."""
        nodes, refs = [], []
        for i, (channels, downscale) in enumerate(self.inputs):
            channels = self.channels if channels is None else channels
            ref = INPUT
            if downscale != 1:
                nodes.append(Node(f"pool{i}", "pool", {"kind": "avg", "kernel_size": downscale}, inputs=(ref,)))
                ref = f"pool{i}"
            if channels != self.channels:
                nodes.append(Node(f"conv{i}", "conv_bn_act", {"out_channels": channels, "kernel_size": 1},
                                  inputs=(ref,)))
                ref = f"conv{i}"
            refs.append(ref)
        nodes.append(Node(BLOCK_NODE, self.block, dict(self.args), inputs=tuple(refs)))
        return Spec(name=f"bench_{self.block}", nodes=tuple(nodes), output=BLOCK_NODE, in_channels=self.channels)


# Blocks whose benchmark is not the generic one (a single 128x32x64 feature map, default arguments).
EXPLICIT: dict[str, BlockCase] = {case.block: case for case in (
    BlockCase("learning_to_downsample", channels=3, size=IMAGE_SIZE, why="a stem: takes the image"),
    BlockCase("hardnet_stem", channels=3, size=IMAGE_SIZE, why="a stem: takes the image"),
    BlockCase("resnet_stem", channels=3, size=IMAGE_SIZE, why="a stem: takes the image"),
    BlockCase("ndnet_stem", channels=3, size=IMAGE_SIZE, why="a stem: takes the image"),
    BlockCase("xception_block", {"out_channels": FEATURE_CHANNELS}, why="out_channels is required"),
    BlockCase("resnet_stage", {"out_channels": FEATURE_CHANNELS}, why="out_channels is required"),
    BlockCase("ndnet_sep_conv", {"out_channels": FEATURE_CHANNELS}, why="out_channels is required"),
    BlockCase("add", inputs=((None, 1), (None, 1)), why="two inputs at one resolution (a residual join)"),
    BlockCase("concat", inputs=((None, 1), (None, 2)), why="two inputs, the second at half resolution"),
    BlockCase("resized_sum", inputs=((None, 1), (None, 2)), why="two inputs, the second at half resolution"),
    BlockCase("reduce_sum", inputs=((None, 1), (None, 2)), why="two inputs, the second at half resolution"),
    BlockCase("fanet_fusion_up", inputs=((None, 1), (None, 2)),
              why="the stage's features and the coarser stage's up features at half resolution"),
    BlockCase("feature_fusion", channels=64, inputs=((None, 1), (128, 4)),
              why="Fast-SCNN's FFM: 64-channel high branch and 128-channel low branch at 1/4 of its size"),
    BlockCase("resize_like", channels=3, size=IMAGE_SIZE, inputs=((19, 8), (None, 1)),
              why="the final upsample: 19 class scores at 1/8 resized to the 256x512 image"),
)}


def block_case(name: str) -> BlockCase:
    """The benchmark case of registered block ``name``: explicit if listed, else generic.

    Generic: one 128x32x64 input, default arguments (``out_channels`` 128 where required); a
    block taking any number of inputs gets two (the second at half resolution, or both at one
    resolution when the block requires it). Anything else raises :class:`ValueError` asking for
    an explicit case.
    """
    from archlab.registry import get_block

    info = get_block(name)  # SpecError with suggestions for an unknown name
    if name in EXPLICIT:
        return EXPLICIT[name]
    args = {}
    for arg in info.required:
        if arg != "out_channels":
            raise ValueError(f"block {name!r} requires argument {arg!r}, which has no generic benchmark value; "
                             f"add an explicit BlockCase for it in archlab/bench/cases.py")
        args[arg] = FEATURE_CHANNELS
    if info.num_inputs == 1:
        inputs = ((None, 1),)
    elif info.num_inputs is None:
        same = getattr(info.cls, "same_size_inputs", False)
        inputs = ((None, 1), (None, 1 if same else 2))
    else:
        raise ValueError(f"block {name!r} takes {info.num_inputs} inputs and has no generic benchmark case; add "
                         f"an explicit BlockCase for it in archlab/bench/cases.py")
    return BlockCase(name, args, inputs=inputs)


def block_cases() -> dict[str, BlockCase]:
    """Every registered block's case, by name; raises naming the first block that has none."""
    from archlab.registry import list_blocks

    return {row["name"]: block_case(row["name"]) for row in list_blocks()}


def check_case(case: BlockCase) -> None:
    """Validate a case's spec at its input size (a SpecError names the node that fails)."""
    from archlab.graph import validate

    if not isinstance(case, BlockCase):
        raise SpecError(f"expected an archlab.bench.BlockCase, got {type(case).__name__}")
    validate(case.spec(), case.input_size)
