import pytest

from archlab.train.config import TrainConfig


def test_poly_schedule_with_warmup():
    c = TrainConfig(steps=100, lr=0.1, warmup_steps=4, power=0.9)
    assert [round(c.lr_at(s), 6) for s in range(4)] == [0.02, 0.04, 0.06, 0.08]
    assert c.lr_at(4) == pytest.approx(0.1 * (1 - 4 / 100) ** 0.9)
    assert c.lr_at(99) == pytest.approx(0.1 * 0.01 ** 0.9)
    assert all(c.lr_at(s) > c.lr_at(s + 1) for s in range(4, 99))


@pytest.mark.parametrize("field,value,match", [
    ("data", "imagenet", "valid datasets are synthstreets, cityscapes, camvid"),
    ("steps", 0, "positive integer"), ("lr", -1.0, "> 0"), ("scale", (2.0, 1.0), "low <= high"),
    ("amp", "fp8", "valid: auto, off, fp16, bf16"), ("size", (8, 8), ">= 16"),
])
def test_bad_settings_name_the_setting(field, value, match):
    with pytest.raises(ValueError, match=field) as info:
        TrainConfig(**{field: value})
    assert match in str(info.value)


def test_round_trip_and_hash_follow_the_settings():
    c = TrainConfig(steps=10)
    assert TrainConfig.from_dict(c.to_dict()) == c
    assert c.result_hash() == TrainConfig(steps=10).result_hash() != TrainConfig(steps=11).result_hash()
    assert c.differences(TrainConfig(steps=11)) == {"steps": (10, 11)}
    with pytest.raises(ValueError, match="unknown training settings"):
        TrainConfig.from_dict({"stepz": 3})
