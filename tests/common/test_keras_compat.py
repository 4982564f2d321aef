"""The Keras internals the toolkit relies on, in one place: these fail
loudly when a Keras upgrade changes them."""

import keras
import numpy as np

from common.keras_compat import producing_layer, producing_node


def test_producing_layer_finds_the_outer_call_of_a_nested_model():
    inner_input = keras.Input((4,))
    inner = keras.Model(inner_input, keras.layers.Dense(3, name="inner_dense")(inner_input),
                        name="inner")
    inputs = keras.Input((4,))
    hidden = inner(inputs)
    outputs = keras.layers.Dense(2, name="head")(hidden)
    model = keras.Model(inputs, outputs)
    assert producing_layer(model.outputs[0]) is model.get_layer("head")
    assert producing_layer(model.get_layer("head").input) is inner
    # The public alternative does not do it: a nested model's .output is its
    # inner tensor, not the one its call produced in the outer graph.
    assert inner.output is not hidden
    node = producing_node(model.outputs[0])  # the head's call in the outer graph
    assert node.operation is model.get_layer("head") and node.input_tensors == [hidden]
    assert producing_node(inputs).is_input


def _classifier(size=8, classes=3):
    inputs = keras.Input((size, size, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(x))


def test_keras_still_fails_on_an_uneven_first_batch_under_a_strategy(mirrored):
    """keras-team/keras#20329, the reason for DistributedBuildFix: when this
    test fails, Keras fixed the symbolic build and the override can go."""
    import pytest
    import tensorflow as tf
    x = np.random.rand(7, 8, 8, 3).astype("float32")
    y = np.array([0, 1, 2, 0, 1, 2, 0])
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(7)  # 4 + 3 images
    with mirrored.scope():
        plain = _classifier()
        plain.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(tf.errors.InvalidArgumentError, match="AddN"):
        plain.fit(data, epochs=1, verbose=0)


def test_keras_still_reduces_scalar_logs_on_axis_0_in_multi_worker_mode():
    """tensorflow/tensorflow#72388, the reason for reducible_logs: Keras's
    reduce_per_replica still uses axis=0 for multi-worker means, and the
    private names the workarounds use still exist."""
    import inspect

    from keras.src.backend.tensorflow import trainer
    source = inspect.getsource(trainer.reduce_per_replica)
    assert 'strategy.reduce("MEAN", v, axis=0)' in source
    assert hasattr(trainer.TensorFlowTrainer, "_maybe_symbolic_build")
    assert hasattr(trainer.TensorFlowTrainer, "_symbolic_build")
    assert hasattr(trainer.TFEpochIterator, "_get_iterator")
    from tensorflow.python.distribute.values import PerReplicaSpec
    assert "_value_specs" in PerReplicaSpec.__init__.__code__.co_names
    build = inspect.getsource(trainer.TensorFlowTrainer._maybe_symbolic_build)
    assert 'self.distribute_strategy.reduce(\n                        "MEAN"' in build


def test_a_guided_fit_traces_its_train_step_once_where_keras_traces_twice():
    """Without a strategy Keras builds the optimizer and the metrics inside
    the first trace, and tf.function traces again (tensorflow#48851); the
    toolkit's models build first. The plain Keras count shows the upstream
    behaviour still exists (if it goes, the override can go too)."""
    import numpy as np

    import common

    def network():
        inputs = keras.Input((8, 8, 3))
        features = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
        return keras.Model(inputs, keras.layers.Dense(3)(
            keras.layers.GlobalAveragePooling2D()(features)))

    class Plain(keras.Model):
        def train_step(self, data):
            traces.append("plain")
            return super().train_step(data)

    class Guided(common.GuidedClassifier):
        def train_step(self, data):
            traces.append("guided")
            return super().train_step(data)

    traces = []
    plain = network()
    plain = Plain(plain.inputs, plain.outputs)
    guided = Guided(network(), guides=[common.HomogeneousNegativeCam(weight=0.07, k=2)])
    x, y = np.random.rand(16, 8, 8, 3).astype("float32"), np.arange(16) % 3
    for model in (plain, guided):
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
    assert traces.count("plain") == 2 and traces.count("guided") == 1, traces


def test_keras_still_swallows_an_interrupt_and_the_latch_raises_it_again():
    """Keras's structure check of a functional call is a bare ``except:``
    (a Ctrl-C landing there becomes a warning); the harness's latch remembers
    the SIGINT and raises KeyboardInterrupt at the next batch end. Here a
    callback swallows the interrupt the way Keras does."""
    import inspect
    import os
    import signal

    from common.training.interrupt_latch import InterruptLatch
    source = inspect.getsource(type(_classifier())._maybe_warn_inputs_struct_mismatch)
    assert "except:" in source  # when Keras fixes it, the latch can go

    class SwallowCtrlC(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.batches = 0

        def on_train_batch_begin(self, batch, logs=None):
            self.batches += 1
            if self.batches == 2:
                try:
                    os.kill(os.getpid(), signal.SIGINT)  # the handler runs right here
                    sum(range(1000))
                except KeyboardInterrupt:
                    pass  # what the bare except does

    before = signal.getsignal(signal.SIGINT)
    x, y = np.random.rand(64, 8, 8, 3).astype("float32"), np.arange(64) % 3
    for latch, raises in ((False, False), (True, True)):
        model = _classifier()
        model.compile("sgd", "sparse_categorical_crossentropy")
        swallow = SwallowCtrlC()
        callbacks = [InterruptLatch(), swallow] if latch else [swallow]
        try:
            model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=callbacks)
            stopped = False
        except KeyboardInterrupt:
            stopped = True
        assert stopped is raises and (swallow.batches == 2 if raises else swallow.batches == 8)
    assert signal.getsignal(signal.SIGINT) == before  # the latch put it back
