"""The one place that relies on Keras internals, each use with the reason
no public API does the job; ``tests/common/test_keras_compat.py`` fails
loudly when a Keras upgrade changes them."""


def producing_layer(tensor):
    """The layer whose call produced a symbolic (Keras) tensor.

    Keras 3 has no public link from a functional graph's tensor to its
    producer: ``layer.output`` of a nested model is the model's *inner*
    output, not the tensor its call produced in the outer graph. Every
    KerasTensor records ``_keras_history = (operation, node_index,
    tensor_index)``.
    """
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        raise TypeError(f"{tensor!r} is not a symbolic tensor of a functional model")
    return history.operation
