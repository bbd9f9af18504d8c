"""archlab: ablate and profile real-time semantic segmentation architectures.

Public API::

    archlab.list_blocks()                       # every block: name, parameters, defaults, paper
    archlab.register_block(name, paper=...)     # decorator: your own block class, usable in specs
    archlab.list_models()                       # the zoo
    archlab.get_spec(name, **knobs)             # a plain-data spec (width, depth, alpha knobs)
    archlab.build(spec)                         # spec -> nn.Module, validated, shapes inferred
    archlab.create_model(name, num_classes=19, **knobs)
    archlab.profile(model_or_spec, input_size=(1, 3, H, W), ...)  # a ProfileResult: .record, .per_node
    archlab.transforms.replace / remove / scale_width / scale_depth / set_alpha / cascade
"""
from archlab import transforms
from archlab.errors import ArchlabError, BlockContractError, SpecError
from archlab.graph import GraphModel, build, infer_shapes, validate
from archlab.profile import profile
from archlab.registry import list_blocks, register_block
from archlab.spec import Node, Spec
from archlab.zoo import create_model, get_spec, list_models

__version__ = "0.1.0"

__all__ = ["ArchlabError", "BlockContractError", "GraphModel", "Node", "Spec", "SpecError", "build", "create_model", "get_spec", "infer_shapes",
           "list_blocks", "list_models", "profile", "register_block", "transforms", "validate", "__version__"]
