"""Playing to distraction (Morales et al., 2021): Grad-CAM-guided occlusion
training."""
