"""Right for the Right Reasons (Ross, Hughes and Doshi-Velez, IJCAI 2017):
the model's input gradients must vanish where it must not look."""

import keras
import tensorflow as tf

from common.guidance import Guide


@keras.saving.register_keras_serializable(package="common")
class InputGradientPenalty(Guide):
    """``weight`` times the squared input gradient of the summed
    log-probabilities inside the ``ignore`` mask, summed over pixels and
    channels, mean over images (the paper's right-reasons term; its λ1 for
    Decoy-MNIST, on a multilayer perceptron, was 1000 with a summed
    cross-entropy, the same ratio as this mean over a mean; on the tiny CNN
    of bench/shortcuts.py it removes the shortcut but costs clean accuracy,
    less at 10: see docs/shortcuts.md's table). Needs ``ignore`` (B, H, W) in [0, 1] among the
    inputs; an image whose mask is all zero adds nothing. Term
    ``input_gradient_loss``.

    The step computes the gradient inside its forward pass (``Step.
    input_gradients``), and training differentiates it again: a double
    backward pass (its cost against a plain step: bench/shortcut_costs.py).
    """

    needs_input_gradients = True
    reads = ("ignore",)

    def __init__(self, weight=1000.0):
        weight = float(weight)
        if not weight >= 0:
            raise ValueError(f"InputGradientPenalty: weight must be >= 0, got {weight}")
        self.weight = weight

    def term_names(self):
        return ("input_gradient_loss",) if self.weight else ()

    def terms(self, step):
        ignore = step.annotation("ignore", "InputGradientPenalty")
        inside = step.input_gradients * ignore[..., None]
        per_image = tf.reduce_sum(tf.square(inside), axis=[1, 2, 3])
        return {"input_gradient_loss": self.weight * tf.reduce_mean(per_image)}

    def get_config(self):
        return {"weight": self.weight}
