"""``python -m common.train``: the plain CAM classifier every method compares
against (backbone -> global average pooling -> Dense softmax, cross-entropy),
optionally with the homogeneous negative CAM loss (--hnc-weight)."""

from common.harness import Trainer, main

if __name__ == "__main__":
    main(Trainer())
