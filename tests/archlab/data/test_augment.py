import numpy as np
import pytest
import torch

from archlab.data import Sample
from archlab.data.augment import MEAN, STD, denormalize, eval_pair, train_pair


def make_sample(h=24, w=36, seed=0) -> Sample:
    rng = np.random.default_rng(seed)
    label = rng.choice(np.array([0, 3, 7, 255], np.uint8), size=(h, w))
    return Sample(image=rng.integers(0, 256, (h, w, 3), dtype=np.uint8), label=label, name="toy")


def normalised(sample: Sample) -> torch.Tensor:
    x = torch.from_numpy(sample.image.astype(np.float32) / 255).permute(2, 0, 1)
    return (x - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)


@pytest.mark.parametrize("size,scale", [((16, 16), (0.5, 2.0)), ((40, 20), (0.25, 0.5)), ((7, 9), (1.5, 3.0))])
def test_train_pair_shapes_dtypes_and_label_values(size, scale):
    sample, rng = make_sample(), np.random.default_rng(0)
    for _ in range(6):
        image, label = train_pair(sample, size, rng, scale=scale)
        assert image.shape == (3, *size) and image.dtype == torch.float32 and image.is_contiguous()
        assert label.shape == size and label.dtype == torch.int64
        assert set(label.unique().tolist()) <= {0, 3, 7, 255}  # nearest resizing never invents ids


def test_identity_when_size_matches_and_scale_is_one():
    sample = make_sample()
    image, label = train_pair(sample, (24, 36), np.random.default_rng(0), scale=(1, 1), flip=False)
    assert torch.equal(image, normalised(sample))
    assert torch.equal(label, torch.from_numpy(sample.label.astype(np.int64)))


def test_flip_mirrors_image_and_label_about_half_the_time():
    sample = make_sample()
    plain = train_pair(sample, (24, 36), np.random.default_rng(0), scale=(1, 1), flip=False)
    flipped = 0
    for seed in range(40):
        image, label = train_pair(sample, (24, 36), np.random.default_rng(seed), scale=(1, 1))
        if torch.equal(image, plain[0]):
            assert torch.equal(label, plain[1])
        else:
            assert torch.equal(image, plain[0].flip(-1)) and torch.equal(label, plain[1].flip(-1))
            flipped += 1
    assert 8 <= flipped <= 32


def test_padding_is_mean_colour_and_ignore_label():
    sample = make_sample(24, 36)
    image, label = train_pair(sample, (24, 36), np.random.default_rng(0), scale=(0.5, 0.5), flip=False)
    assert (label[12:] == 255).all() and (label[:, 18:] == 255).all()
    assert (image[:, 12:] == 0).all() and (image[:, :, 18:] == 0).all()
    assert (label[:12, :18] != 255).any()
    assert (denormalize(image)[12:] == np.round(np.array(MEAN) * 255)).all()  # 0 = the mean colour


def test_same_rng_seed_same_pair_and_seeds_differ():
    sample = make_sample()
    a = train_pair(sample, (16, 16), np.random.default_rng(5))
    b = train_pair(sample, (16, 16), np.random.default_rng(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    others = [train_pair(sample, (16, 16), np.random.default_rng(s))[0] for s in range(6, 10)]
    assert any(not torch.equal(a[0], o) for o in others)


def test_label_downscale_samples_pixel_centres():
    label = np.arange(36 * 36, dtype=np.int64).reshape(36, 36) % 251
    sample = Sample(image=np.zeros((36, 36, 3), np.uint8), label=label.astype(np.uint8), name="grid")
    _, small = eval_pair(sample, (12, 12))
    assert np.array_equal(small.numpy(), label[1::3, 1::3])  # the centre of each 3x3 cell
    _, big = eval_pair(sample, (72, 72))
    assert np.array_equal(big.numpy(), label.repeat(2, 0).repeat(2, 1))


def test_eval_pair_exact_when_size_matches_and_resizes_otherwise():
    sample = make_sample()
    image, label = eval_pair(sample, (24, 36))
    assert torch.equal(image, normalised(sample))
    assert torch.equal(label, torch.from_numpy(sample.label.astype(np.int64)))
    assert np.array_equal(denormalize(image), sample.image)
    image, label = eval_pair(sample, (10, 50))
    assert image.shape == (3, 10, 50) and label.shape == (10, 50) and label.dtype == torch.int64
    assert set(label.unique().tolist()) <= {0, 3, 7, 255}


def test_bilinear_resize_of_a_flat_image_stays_flat():
    sample = Sample(image=np.full((20, 30, 3), (10, 200, 90), np.uint8), label=np.zeros((20, 30), np.uint8), name="f")
    image, _ = eval_pair(sample, (7, 45))
    assert (denormalize(image) == np.array([10, 200, 90], np.uint8)).all()


@pytest.mark.parametrize("size", [(0, 4), (4,), (4.0, 4), (True, 4), "44", None])
def test_bad_size(size):
    with pytest.raises(ValueError, match="size = .*two positive ints"):
        train_pair(make_sample(), size, np.random.default_rng(0))
    with pytest.raises(ValueError, match="size"):
        eval_pair(make_sample(), size)


@pytest.mark.parametrize("scale", [(0, 1), (2.0, 1.0), (-1, 1), (float("nan"), 1), (1,), 1.0])
def test_bad_scale(scale):
    with pytest.raises(ValueError, match=r"scale = .*0 < lo <= hi"):
        train_pair(make_sample(), (8, 8), np.random.default_rng(0), scale=scale)


def test_mismatched_sample_is_rejected():
    bad = Sample(image=np.zeros((8, 8, 3), np.uint8), label=np.zeros((8, 9), np.uint8), name="bad")
    with pytest.raises(ValueError, match="sample 'bad'"):
        eval_pair(bad, (8, 8))
