"""Two processes, gloo backend, through torchrun: both ranks end with the same weights and mIoU."""
import json
import subprocess
import sys


def test_two_process_ddp_ranks_agree(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "archlab.train", "small_rf_cnn", "--size", "32x64", "--steps", "4", "--batch", "2",
           "--warmup-steps", "1", "--eval-length", "4", "--threads", "1", "--out", str(tmp_path), "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"]
    assert ranks[0]["miou"] == ranks[1]["miou"]
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["world_size"] == 2 and record["ranks_agree"] is True and record["status"] == "ok"
    # the two ranks saw different samples: 4 steps x 2 images x 2 ranks
    assert record["train_images_per_s"] > 0 and record["train_batch"] == 2
    printed = json.loads(done.stdout)                   # only rank 0 prints
    assert printed["weights_sha256"] == ranks[0]["weights_sha256"]
