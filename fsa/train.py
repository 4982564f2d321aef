"""``python -m fsa.train``: SqueezeNet v1.1 with Forced Spatial Attention.

--variant reproduces the rows of the paper's Table 2: ce (cross-entropy
only), mse (CE + the first term with the stage-1 target), stage1, stage2,
fsa (stage 1 for --fsa-stage1-epochs, then stage 2 for --fsa-stage2-epochs).
Any variant with the FSA loss can start with --fsa-warmup-epochs of
cross-entropy only. The masks are averaged onto the CAM grid around each
cell's receptive-field centre and rescaled to peak 1 (--fsa-mask-peak raw
keeps the values); the fit term is binary cross-entropy on the CAM logits
(--fsa-fit-loss mse: the paper's MSE on the sigmoid, whose gradient vanishes
once a CAM is far below 0, so a CAM pushed there stays dead). history.csv
has cam_alive, the fraction of positive true-class CAM logits; a run that
ends with dead CAMs says so and exits with status 1. The flags are the
guide's (``fsa.ForcedSpatialAttention``), as in ``attention-train --masks``.

With --data, the paper's settings: ImageNet-pretrained SqueezeNet v1.1
(torchvision's file; --weights FILE.pth, or none), 224 px, batch 64, SGD lr
5e-4, momentum 0.9, weight decay 5e-4, 15 + 15 epochs, --fsa-weight 10 (the
paper's lambda_fsa), --fsa-reg 0.2 (lambda_reg); --masks is then required.
Without --data: demo:where and its mask set, trained from scratch with
AdamW lr 3e-4, 6 + 6 epochs.
"""

from common.training.cli import ConfigError, Flag, TrainCommand
from common.training.entry import main
from common.training.guide_groups import FSA_DEFAULTS, FSA_FLAGS, HNC

VARIANTS = ("ce", "mse", "stage1", "stage2", "fsa")
FLAGS = {
    "variant": Flag(str, "loss of the paper's Table 2", VARIANTS),
    "masks": Flag(str, "mask set (.npz or .json, see fsa.masks); default: the demo's"),
    **FSA_FLAGS,  # the same flags, names and guide as attention-train --masks
    "fsa_stage2_epochs": Flag(int, "epochs of stage 2 (variant fsa); --epochs defaults to "
                                   "warm-up + stage 1 + stage 2", low=0),
}
# former names (one name per parameter: the guide's argument after 'fsa_')
RENAMED = {"lambda_fsa": "fsa_weight", "lambda_reg": "fsa_reg", "fit_loss": "fsa_fit_loss",
           "mask_peak": "fsa_mask_peak", "warmup_epochs": "fsa_warmup_epochs",
           "stage1_epochs": "fsa_stage1_epochs", "stage2_epochs": "fsa_stage2_epochs"}
METHOD_DEFAULTS = {**FSA_DEFAULTS, "variant": "fsa", "masks": None, "momentum": 0.9,
                   "weight_decay": 5e-4, "backbone": "squeezenet1_1"}


def settle(values):
    """``TrainCommand.settle``: --epochs from the schedule when not given;
    user data needs its mask set (said before TensorFlow loads)."""
    user_data = not str(values["data"]).startswith("demo:")
    if user_data and not values["masks"] and values["variant"] != "ce":
        raise ConfigError("--masks is required with --data (a .npz or .json mask set, see "
                          "fsa.masks)")
    if values["epochs"] is not None:
        return {}
    return {"epochs": values["fsa_warmup_epochs"] + (values["fsa_stage1_epochs"] or 0)
            + values["fsa_stage2_epochs"]}


COMMAND = TrainCommand(
    method="fsa", description=__doc__, trainer="fsa.trainer:FsaTrainer",
    demo_data="demo:where", flags=FLAGS, shared=(HNC,), renamed=RENAMED,
    settle="fsa.train:settle",
    demo_defaults={**METHOD_DEFAULTS, "batch_size": 32, "image_size": 96,
                   "optimizer": "adam", "lr": 3e-4, "fsa_weight": 1.0, "fsa_reg": 0.05,
                   "fsa_stage1_epochs": 6, "fsa_stage2_epochs": 6},
    paper_defaults={**METHOD_DEFAULTS, "weights": "imagenet", "batch_size": 64,
                    "image_size": 224, "optimizer": "sgd", "lr": 5e-4, "fsa_weight": 10.0,
                    "fsa_reg": 0.2, "fsa_stage1_epochs": 15, "fsa_stage2_epochs": 15})


def run(argv=None):
    """The console script ``fsa-train``."""
    return main(COMMAND, argv)


if __name__ == "__main__":
    run()
