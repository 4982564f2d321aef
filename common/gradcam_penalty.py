"""Right for the Right Reasons with Grad-CAM (RRR-G; Schramowski et al.,
"Making deep neural networks right for the right scientific reasons by
interacting with their explanations", Nature Machine Intelligence 2020):
the true class's Grad-CAM must vanish where the model must not look."""

import keras
import tensorflow as tf

from common.guidance import Guide


@keras.saving.register_keras_serializable(package="common")
class GradCamPenalty(Guide):
    """``weight`` times the squared Grad-CAM of each image's true class
    inside its ``ignore`` mask, averaged over the pixels, mean over images;
    the map upsampled bilinearly to the image. On the CAM heads the toolkit
    finds (GAP -> Dense, a 1x1 conv CAM head, FAM's maps) Grad-CAM of a
    class is the ReLU of its class activation map (Selvaraju et al.: the
    gradient weights of a GAP head are its Dense kernel), so it comes from
    the CAMs the step computes once. Not normalised per image: a normalised
    map can be lowered inside the mask by raising it elsewhere. Like
    Grad-CAM it sees positive evidence only: negative evidence inside the
    mask (a class argued against) is not penalised. Needs ``ignore``
    (B, H, W); term ``gradcam_loss``."""

    needs_cams = True
    reads = ("ignore",)

    def __init__(self, weight=1.0):
        weight = float(weight)
        if not weight >= 0:
            raise ValueError(f"GradCamPenalty: weight must be >= 0, got {weight}")
        self.weight = weight

    def term_names(self):
        return ("gradcam_loss",) if self.weight else ()

    def terms(self, step):
        ignore = step.annotation("ignore", "GradCamPenalty")
        maps = tf.nn.relu(step.true_class_cams())[..., None]
        maps = tf.image.resize(maps, tf.shape(ignore)[1:3], method="bilinear")[..., 0]
        per_image = tf.reduce_mean(tf.square(maps * ignore), axis=[1, 2])
        return {"gradcam_loss": self.weight * tf.reduce_mean(per_image)}

    def get_config(self):
        return {"weight": self.weight}
