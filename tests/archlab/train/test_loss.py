import torch

from archlab.train.loss import cross_entropy, ohem_cross_entropy


def test_cross_entropy_ignores_255():
    logits = torch.randn(1, 3, 2, 2)
    target = torch.tensor([[[0, 1], [255, 255]]])
    manual = -torch.log_softmax(logits, 1)[0, [0, 1], [0, 0], [0, 1]].mean()
    assert torch.allclose(cross_entropy(logits, target), manual)


def test_ohem_keeps_only_hard_pixels_when_there_are_enough():
    logits = torch.zeros(1, 2, 1, 4)
    logits[0, 0, 0, :2] = 10.0          # pixels 0, 1: confidently right (class 0) -> easy
    target = torch.tensor([[[0, 0, 1, 1]]])  # pixels 2, 3: p(class 1) = 1/(1+1) = 0.5 < 0.7 -> hard
    hard = ohem_cross_entropy(logits, target, thresh=0.7, min_kept=0.25)
    assert torch.allclose(hard, torch.log(torch.tensor(2.0)))
    assert hard > cross_entropy(logits, target)


def test_ohem_keeps_the_minimum_when_everything_is_easy():
    logits = torch.zeros(1, 2, 1, 4)
    logits[0, 0] = torch.tensor([10.0, 9.0, 8.0, 7.0])
    target = torch.zeros(1, 1, 4, dtype=torch.long)
    losses = torch.nn.functional.cross_entropy(logits, target, reduction="none").reshape(-1)
    kept = ohem_cross_entropy(logits, target, thresh=0.7, min_kept=0.5)
    assert torch.allclose(kept, losses.topk(2).values.mean())


def test_ohem_of_an_all_ignored_batch_is_zero_with_a_gradient():
    logits = torch.randn(1, 2, 2, 2, requires_grad=True)
    loss = ohem_cross_entropy(logits, torch.full((1, 2, 2), 255))
    loss.backward()
    assert loss.item() == 0.0 and logits.grad is not None
