"""Playing to distraction: Grad-CAM-guided occlusion training. Importing the
package registers its model for ``keras.saving.load_model``."""

import common  # noqa: F401
from distraction import model  # noqa: F401
