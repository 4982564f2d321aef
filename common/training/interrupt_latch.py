"""``InterruptLatch``: Ctrl-C that Keras swallowed still stops training."""

import signal
import threading

import keras


class InterruptLatch(keras.callbacks.Callback):
    """Ctrl-C that Keras swallowed is raised again at the next batch.

    ``Functional._maybe_warn_inputs_struct_mismatch`` (keras/src/models/
    functional.py) wraps a structure check in a bare ``except:``, so a
    KeyboardInterrupt landing there (a callback calling the model eagerly
    when Ctrl-C comes) becomes a UserWarning and training goes on (bare
    excepts elsewhere in Keras: keras-team/keras#22486). The latch
    remembers SIGINT (then does what the previous handler did) and raises
    KeyboardInterrupt at the next batch or epoch end if it is still
    training. A SIGINT that is ignored (a background job) stays ignored."""

    def __init__(self):
        super().__init__()
        self.pressed, self.previous = False, None

    def on_train_begin(self, logs=None):
        self.pressed = False
        if threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGINT)
        if callable(previous):
            self.previous = previous
            signal.signal(signal.SIGINT, self._handler)

    def _handler(self, signum, frame):
        self.pressed = True
        self.previous(signum, frame)

    def _raise_if_pressed(self, *args, **kwargs):
        if self.pressed:
            self.on_train_end()  # fit ends here: Keras calls no on_train_end
            raise KeyboardInterrupt

    on_train_batch_end = on_test_batch_end = on_epoch_end = _raise_if_pressed

    def on_train_end(self, logs=None):
        """Puts the previous handler back."""
        if self.previous is not None and signal.getsignal(signal.SIGINT) == self._handler:
            signal.signal(signal.SIGINT, self.previous)
        self.previous = None
