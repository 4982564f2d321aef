"""What every console command shares, the trainers and the commands that
apply a saved model alike: ``ModelCommand`` (the base of explain, evaluate,
``agnet-predict``, ``fam-evaluate``), the pictures, the progress lines and
TensorFlow's quiet start."""
