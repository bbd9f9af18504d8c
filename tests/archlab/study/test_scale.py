"""The scale check (archlab/study/scale.py): which blocks a small proxy input cannot judge."""
from archlab.study import scale
from archlab.study.loader import load_study


def _aspp_spec():
    study = load_study("dapf_vs_aspp")
    return study.spec(next(v for v in study.variants if v.name == "+ASPP"))


def test_aspp_is_flagged_on_a_4x8_map_and_not_on_a_32x64_map():
    spec = _aspp_spec()
    at_proxy = scale.reach_issues(spec, (128, 256))           # context map 4x8
    assert {(i.node, i.map_size) for i in at_proxy} == {("context", (4, 8))}
    assert max(max(i.reach) for i in at_proxy) == 18
    assert scale.reach_issues(spec, (1024, 2048)) == []       # context map 32x64
    assert scale.summarise(spec, scale.scale_flags(spec, (128, 256), (1024, 2048))) == [
        "context (aspp): rate-18 taps read only padding on its 4x8 map"]


def test_rate_6_fits_an_8x16_map_but_12_and_18_do_not():
    rates = {max(i.reach) for i in scale.reach_issues(_aspp_spec(), (256, 512))}
    assert rates == {12, 18}


def test_smallest_clean_size_is_where_rate_18_first_fits():
    # rate 18 needs a context map side of 19 or more: 19 x 32 = 608 pixels of input height
    assert scale.smallest_clean_size([_aspp_spec()], (128, 256), (1024, 2048)) == (608, 1216)


def test_a_network_without_dilation_or_pools_is_never_flagged():
    study = load_study("dapf_vs_aspp")
    baseline = study.spec(next(v for v in study.variants if v.name == "baseline"))
    assert scale.scale_flags(baseline, (128, 256), (1024, 2048)) == []


def test_pyramid_pooling_finer_than_its_map_is_flagged():
    study = load_study("context_modules")
    ppm = study.spec(next(v for v in study.variants if v.name == "Fast-SCNN + PPM"))
    pools = [i for i in scale.reach_issues(ppm, (64, 128)) if i.kind == "pool"]
    assert pools and all(max(i.reach) > min(i.map_size) for i in pools)
