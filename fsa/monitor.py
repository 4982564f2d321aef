"""FSA's callbacks (``ForcedSpatialAttention.callbacks``): ``StageSwitch``,
its schedule, and ``DeadCamMonitor``, which says when it has killed the
CAMs."""

import sys

import keras

from common.guidance import GuideCheck

ADVICE = ("try fit_loss='bce' (--fsa-fit-loss bce: its gradient does not vanish), "
          "pretrained weights, or a lower weight / reg (--fsa-weight / --fsa-reg)")


class DeadCamMonitor(GuideCheck):
    """Warns (one line on stderr) after each epoch whose ``cam_alive`` metric
    is 0: every true-class CAM logit is <= 0, so ReLU -> GAP gives every
    class 0, the softmax is uniform, cross-entropy passes no gradient, and
    the model predicts at chance. ``ended_dead`` says whether the last epoch
    ended so.

    Example:
        ``model.fit(data, epochs=12, callbacks=[StageSwitch(6), DeadCamMonitor()])``
    """

    def __init__(self, prefix="fsa"):
        super().__init__()
        self.prefix = prefix
        self.alive = []

    def on_epoch_end(self, epoch, logs=None):
        alive = (logs or {}).get("cam_alive")
        if alive is None:
            return
        self.alive.append(float(alive))
        if alive == 0:
            print(f"{self.prefix}: warning: epoch {epoch + 1} ended with cam_alive 0: every "
                  "true-class CAM logit is <= 0, so the cross-entropy gets no gradient and "
                  f"the model predicts at chance; {ADVICE}", file=sys.stderr)

    @property
    def ended_dead(self):
        return bool(self.alive) and self.alive[-1] == 0

    def failure(self):
        if self.ended_dead:
            return ("the model ended with dead CAMs (cam_alive 0 in the last epoch): it "
                    "predicts at chance")
        return None

    def run_metrics(self):
        return {"cam_alive": self.alive[-1] if self.alive else None}


class StageSwitch(keras.callbacks.Callback):
    """Stage 0 (cross-entropy only) for ``warmup_epochs``, then stage 1 for
    ``stage1_epochs`` (None: for the rest of training), then stage 2, of
    ``guide`` (default: the model's first guide with stages, its
    ``ForcedSpatialAttention``).

    Example:
        ``model.fit(data, epochs=30, callbacks=[StageSwitch(stage1_epochs=15)])``
    """

    def __init__(self, stage1_epochs, warmup_epochs=0, guide=None):
        super().__init__()
        self.guide = guide
        self.stage1_epochs = None if stage1_epochs is None else int(stage1_epochs)
        self.warmup_epochs = int(warmup_epochs)

    def stage_of(self, epoch):
        if epoch < self.warmup_epochs:
            return 0
        if self.stage1_epochs is None or epoch < self.warmup_epochs + self.stage1_epochs:
            return 1
        return 2

    def on_epoch_begin(self, epoch, logs=None):
        guide = self.guide or next(g for g in self.model.guides
                                   if getattr(g, "stage", None) is not None)
        if not any(guide is g for g in self.model.guides):
            raise ValueError("StageSwitch: its guide is not one of this model's guides (a "
                             "guide given to a second model is copied): use "
                             "model.guide_callbacks(), or StageSwitch(guide=model.guides[i])")
        guide.stage.assign(self.stage_of(epoch))
