"""The Keras internals the toolkit relies on, in one place: these fail
loudly when a Keras upgrade changes them."""

import keras

from common.keras_compat import producing_layer


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
