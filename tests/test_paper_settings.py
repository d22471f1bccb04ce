"""``--method NAME --preset paper`` gives each paper's pretraining values. The expected numbers
are typed here from the papers' text (section quoted), never read from the code."""

import pytest

import train

PAPER = {
    # thesis §4.1: "The number of epochs for pre-training was 100 for videoSimCLR and 200 for videoMOCO
    # V1/V2"; "we resize the video frames from 320x240 to the standard size of 224x224"; "batch size of 128"
    "simclr": dict(epochs=100, batch_size=128, crop=224, objectives=("simclr",)),
    # MoCo v2 (its τ; the thesis gives none): 0.2 with the MLP head
    "moco": dict(epochs=200, batch_size=128, crop=224, moco_version=2, moco_temperature=0.2),
    "moco-v1": dict(epochs=200, batch_size=128, crop=224, moco_version=1, moco_temperature=0.07),
    # time-equivariant §3.4: "16 frames at a resolution of 128×128", AdamW, weight decay 1e-4, warm-up to 3e-4,
    # cosine; §4.2: Kinetics-400, "200 epochs", "512 for 3D-ResNet-18"
    "te": dict(frames=16, crop=128, batch_size=512, epochs=200, optimizer="adamw", lr=3e-4,
               adamw_weight_decay=1e-4, schedule="cosine"),
    # §4.1: "400 epochs on UCF101 training split 1 with a batch size of 192"
    "te-ucf101": dict(frames=16, crop=128, batch_size=192, epochs=400, optimizer="adamw", lr=3e-4),
    # multi-level §4.2: "32 RGB frames ... two 16-frame clips with resolution 112×112", "batch size of 256",
    # "100 epochs on Kinetics-400, and 300 epochs on UCF-101 using ADAM with an initial learning rate of 10^-3"
    "mlfo": dict(frames=16, crop=112, batch_size=256, epochs=100, optimizer="adam", lr=1e-3),
    "mlfo-ucf101": dict(frames=16, crop=112, batch_size=256, epochs=300, optimizer="adam", lr=1e-3),
}
# Epochs at which the learning rate drops ÷10: moco-v1 "120, 160 of 200" (MoCo v1's schedule, the thesis
# code); multi-level "decayed by 10 at 70 epochs for Kinetics-400, and 200 epochs for UCF-101".
DROPS = {"moco-v1": [120, 160], "mlfo": [70], "mlfo-ucf101": [200]}


@pytest.mark.parametrize("method", sorted(PAPER))
def test_paper_preset_gives_the_papers_values(method):
    config, _ = train.config_from_args(["--method", method, "--preset", "paper", "--backbone", "r3d18"])
    for field, value in PAPER[method].items():
        assert getattr(config, field) == (pytest.approx(value) if isinstance(value, float) else value), field
    if method in DROPS:
        assert [round(m * config.epochs) for m in config.lr_milestones] == DROPS[method]
        assert config.schedule == "step" and config.lr_step_factor == 0.1


def test_demo_preset_keeps_demo_sizes_with_a_method():
    config, _ = train.config_from_args(["--method", "te-ucf101", "--backbone", "c3d"])
    assert (config.batch_size, config.epochs, config.optimizer) == (8, 3, "adamw")
