import json

import pytest

import archlab
from archlab import Node, Spec, SpecError


def test_json_round_trip_is_identity_and_hash_is_stable():
    for name in archlab.list_models():
        spec = archlab.get_spec(name)
        again = Spec.from_json(spec.to_json())
        assert again == spec
        assert again.content_hash() == spec.content_hash()


def test_hash_depends_on_structure_not_on_name_or_meta():
    spec = archlab.get_spec("fassd_net")
    assert spec.with_(name="other", meta={"x": 1}).content_hash() == spec.content_hash()
    changed = archlab.transforms.replace(spec, "context", alpha=4)
    assert changed.content_hash() != spec.content_hash()


def test_hash_is_pinned_for_a_fixed_spec():
    # Records refer to specs by this hash: it must not change between releases or machines.
    spec = Spec("tiny", (Node("c", "conv_bn_act", {"out_channels": 8}, ["input"]),), output="c")
    assert spec.content_hash() == "a6e713dea09d42fb"
    assert Spec.from_dict(json.loads(spec.to_json())).content_hash() == "a6e713dea09d42fb"


def test_tuples_in_args_become_lists_so_round_trip_holds():
    node = Node("n", "dapf", {"dilations": (1, 2, 3)}, ("input",))
    assert node.args["dilations"] == [1, 2, 3]


@pytest.mark.parametrize("bad_id", ["1abc", "a.b", "", "input", "a-b"])
def test_bad_node_ids_are_rejected(bad_id):
    with pytest.raises(SpecError, match="node id"):
        Node(bad_id, "identity")


def test_duplicate_ids_and_unknown_fields_are_rejected():
    with pytest.raises(SpecError, match="duplicate node id"):
        Spec("s", (Node("a", "identity"), Node("a", "identity")), output="a")
    with pytest.raises(SpecError, match="unknown node field"):
        Spec.from_dict({"name": "s", "output": "a", "nodes": [{"id": "a", "block": "identity", "bogus": 1}]})
    with pytest.raises(SpecError, match="does not parse"):
        Spec.from_json("{not json")


def test_args_must_be_plain_data():
    with pytest.raises(SpecError, match="plain JSON data"):
        Node("a", "identity", {"x": object()})
