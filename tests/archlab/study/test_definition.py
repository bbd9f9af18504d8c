"""Study definitions: variants as transforms, and every mistake named by study and variant."""
import pytest

from archlab.study import Reference, Study, StudyError, Variant, alpha, remove, remove_all, replace, substitute, width
from archlab.zoo.fassd import fassd_ablation
from archlab.studies.dapf_vs_aspp import STUDY as DAPF_VS_ASPP


def _study(*variants, **kw):
    return Study(name="toy", title="toy", base="fast_scnn", variants=variants, **kw)


def test_dapf_vs_aspp_rows_are_the_checked_fassd_ablation_specs():
    """The zoo tests pin these specs' parameters and MACs to within 1% and 2% of Table I."""
    specs = DAPF_VS_ASPP.specs()
    pairs = {"baseline": "baseline", "+ASPP": "aspp", "+DAPF": "dapf", "+MDA": "mda", "+ASPP+MDA": "aspp_mda",
             "+DAPF+MDA (FASSD-Net)": "dapf_mda"}
    for row, variant in pairs.items():
        assert specs[row].content_hash() == fassd_ablation(variant).content_hash(), row
    assert DAPF_VS_ASPP.published(DAPF_VS_ASPP.variants[1])["published_fps"] == 56.3


def test_ops_apply_in_order_and_describe_themselves():
    v = Variant("thin dapf", (replace("context", block="dapf"), alpha(4), width(0.5)))
    spec = _study(v).spec(v)
    assert spec.node("context").block == "dapf" and spec.node("context").args["alpha"] == 4
    assert spec.name == "toy[thin dapf]"
    assert v.ops[0].describe() == "replace('context', block='dapf')"


def test_unknown_block_names_study_variant_and_block():
    with pytest.raises(StudyError, match=r"study 'toy', variant 'bad'.*unknown block 'apsp'"):
        _study(Variant("bad", (replace("context", block="apsp"),))).check()


def test_bad_transform_names_study_and_variant():
    with pytest.raises(StudyError, match=r"study 'toy', variant 'gone'.*'nowhere'"):
        _study(Variant("gone", (remove("nowhere"),))).check()
    with pytest.raises(StudyError, match=r"variant 'raw'.*not a transform"):
        _study(Variant("raw", ("remove context",))).check()
    with pytest.raises(StudyError, match=r"variant 'no mda'.*no node of block 'mda'"):
        _study(Variant("no mda", (remove_all("mda"),))).check()
    with pytest.raises(StudyError, match=r"variant 'sub'.*last new node must have the replaced id 'ffm'"):
        _study(Variant("sub", (substitute("ffm", [("x", "identity", {}, ["ltd"])]),))).check()


def test_missing_reference_row_is_named():
    ref = Reference(source="paper", rows={"a": {"params_M": 1.0}})
    with pytest.raises(StudyError, match=r"variant 'v'.*published row 'b' is missing.*rows: \['a'\]"):
        _study(Variant("v", published="b"), reference=ref).check()
    with pytest.raises(StudyError, match="no reference given"):
        _study(Variant("v", published="b")).check()


def test_other_definition_errors():
    with pytest.raises(StudyError, match="repeated"):
        _study(Variant("a"), Variant("a")).check()
    with pytest.raises(StudyError, match="baseline 'zz' is not a variant"):
        _study(Variant("a"), baseline="zz").check()
    with pytest.raises(StudyError, match="training budget.*steps"):
        _study(Variant("a"), train={"steps": 0}).check()
    with pytest.raises(StudyError, match=r"variant 'big'.*divisible|variant 'big'.*multiple"):
        Study(name="toy", title="t", base="fast_scnn", variants=(Variant("big"),), size=(100, 100)).check()
