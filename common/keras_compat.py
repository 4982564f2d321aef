"""The one place that relies on Keras internals or works around Keras
bugs, each with the reason no public API does the job;
``tests/common/test_keras_compat.py`` fails loudly when a Keras upgrade
changes them (or fixes the bugs, so the workarounds can go)."""

import keras
import tensorflow as tf


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


def in_multi_worker_mode(strategy):
    """Whether ``strategy`` spans several worker processes (TF_CONFIG)."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    resolver = strategy.cluster_resolver
    spec = resolver.cluster_spec().as_dict() if resolver is not None else {}
    return sum(len(tasks) for tasks in spec.values()) > 1


def first_replica(strategy, batch):
    """``batch`` with every distributed value replaced by the first local
    replica's part (the shapes and dtypes a symbolic build needs)."""
    return keras.tree.map_structure(
        lambda v: strategy.experimental_local_results(v)[0]
        if isinstance(v, tf.distribute.DistributedValues) else v, batch)


def reducible_logs(logs):
    """Step logs that Keras can reduce in multi-worker mode.

    tensorflow/tensorflow#72388: with MultiWorkerMirroredStrategy, Keras 3's
    ``reduce_per_replica`` reduces each scalar log with
    ``strategy.reduce("MEAN", v, axis=0)``, which fails ("Invalid reduction
    dimension 0 for input with 0 dimensions"). A (1,) log reduces to the
    same scalar. Elsewhere the logs stay scalars.
    """
    if not in_multi_worker_mode(tf.distribute.get_strategy()):
        return logs
    return {name: tf.reshape(value, (1,)) for name, value in logs.items()}


class DistributedBuildFix:
    """Mixin for ``keras.Model`` subclasses: the symbolic build of ``fit``
    under a tf.distribute strategy reads the first replica's batch.

    keras-team/keras#20329: Keras 3's ``_maybe_symbolic_build`` reduces the
    whole first data batch with ``strategy.reduce("MEAN", batch, axis=None)``
    only to learn its shapes; the collective (multi-worker) strategy cannot
    reduce nested structures ("Attempt to convert a value (PerReplica...)"),
    and when the last batch splits unevenly over the replicas their shapes
    differ (AddN fails). It also takes that batch with ``next()`` from the
    training iterator, which ``steps_per_epoch`` keeps across epochs, so the
    first batch is never trained on. The build needs shapes and dtypes only:
    this reads them from the dataset's ``element_spec`` (the first replica's
    ``TensorSpec``s) and iterates nothing, so the data order does not depend
    on it either. Overrides that private method;
    ``tests/common/test_keras_compat.py`` fails when Keras changes it.

    It also builds without a strategy, where Keras defers the build to the
    first trace of the train step: the optimizer's slots and the metrics'
    state are then created inside it, and tf.function traces the step a
    second time (tensorflow/tensorflow#48851). Built first, the step is
    traced once: the README's guided MobileNetV3 example fits its two
    steps in 26 s instead of 41 s here.
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is not None:
            data_batch = keras.tree.map_structure(
                lambda spec: spec._value_specs[0] if hasattr(spec, "_value_specs") else spec,
                iterator._get_iterator().element_spec)
        else:
            data_batch = first_replica(self.distribute_strategy, data_batch)
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)
