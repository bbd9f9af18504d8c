"""archlab's PyTorch building blocks, one family per module.

Conventions every block follows (the block graph relies on them and nothing else):

- ``__init__(self, in_channels, ...)``: ``in_channels`` is an ``int`` for a one-input block and a
  tuple of ints (one per input, in order) for a block whose class sets ``num_inputs`` to another
  number or to ``None`` (any number ≥ 1). Other arguments are keywords with plain-data values.
- After ``__init__`` the instance has ``out_channels`` (an int, or a tuple for a block with
  several outputs, whose ``forward`` then returns a tuple) and ``stride``: the factor by which
  each output is smaller than input ``stride_ref`` (class attribute, default 0); a float below 1
  means the block upsamples.
- Class attributes for the graph's transforms: ``paper`` (the paper and section followed),
  ``channel_args`` (argument name → the multiple its channel count must round to when width is
  scaled), ``depth_args`` (arguments that count repeats or layers), ``same_size_inputs`` (inputs
  must share a resolution).
- A module that cannot be built from its arguments raises ``ValueError`` with a message that
  says what would be valid; the graph adds the node's name.

Each module exports ``BLOCKS``, the mapping of spec names to classes that the registry reads.
"""
