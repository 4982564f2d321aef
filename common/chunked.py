"""Forward passes over many generated inputs in chunks of bounded size.

Perturbation methods (the deletion curve, Score-CAM) evaluate a model on
many modified copies of a batch. Stacking them all at once costs memory
that grows with the number of copies; one pass per copy is slow. Here
``make_inputs(indices)`` builds the copies of one chunk only, and the model
runs once per chunk inside a ``tf.while_loop``, so the same code runs
eagerly, inside ``tf.function`` and on any batch size.
"""

import keras
import tensorflow as tf


def call_model(model, inputs):
    """A Keras model in inference mode (BatchNormalization's moving
    statistics, no dropout), or any other callable as it is; float32 out."""
    if isinstance(model, keras.Layer):
        return tf.cast(model(inputs, training=False), tf.float32)
    return tf.cast(model(inputs), tf.float32)


def number_of_chunks(total, chunk_size):
    """ceil(total / chunk_size): the forward passes ``predict_in_chunks`` makes."""
    return (total + chunk_size - 1) // chunk_size


def predict_in_chunks(model, make_inputs, total, chunk_size):
    """``model`` on ``make_inputs(indices)`` for indices 0 .. total - 1, in
    ceil(total / chunk_size) forward passes of at most ``chunk_size`` inputs
    each (the last one smaller when chunk_size does not divide total).

    make_inputs: int32 indices (n,) -> a batch of n inputs, built with
    TensorFlow ops so that only one chunk of inputs exists at a time.
    Returns the outputs stacked in index order, float32 (total, ...).
    """
    if int(chunk_size) < 1:
        raise ValueError(f"chunk_size must be a positive integer; got {chunk_size!r}")
    total = tf.cast(total, tf.int32)
    chunks = number_of_chunks(total, chunk_size)

    def body(i, outputs):
        indices = tf.range(i * chunk_size, tf.minimum((i + 1) * chunk_size, total))
        return i + 1, outputs.write(i, call_model(model, make_inputs(indices)))

    outputs = tf.TensorArray(tf.float32, size=chunks, infer_shape=False)
    _, outputs = tf.while_loop(lambda i, _: i < chunks, body, (tf.constant(0), outputs))
    return outputs.concat()
