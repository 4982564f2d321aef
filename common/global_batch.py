"""Global-batch accounting of guidance terms under ``tf.distribute``: a term
is a replica's (sum, count), and the loss the optimizer sums over replicas
is each replica's share of sum(all) / count(all)."""

import tensorflow as tf


def as_sum_and_count(value, batch):
    """A term as (sum, count): a scalar is a mean over the replica's images."""
    if isinstance(value, (tuple, list)):
        total, count = value
        return tf.cast(total, tf.float32), tf.cast(count, tf.float32)
    value = tf.cast(value, tf.float32)
    return value * batch, batch


def sum_over_replicas(value):
    """``value`` summed over the replicas in sync (itself without replicas)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def weighted(term, weight):
    """``term`` (a mean or a (sum, count) pair) times ``weight``."""
    if isinstance(term, (tuple, list)):
        return (tf.cast(term[0], tf.float32) * weight, term[1])
    return tf.cast(term, tf.float32) * weight
