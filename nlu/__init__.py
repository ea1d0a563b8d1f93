"""The Rasa NLU project (pipeline, training data) and classification behind one interface.

Importing this package is cheap: Rasa and TensorFlow are imported only when a model is
trained or loaded, so the web process can import `nlu.normalize` freely.
"""
import contextlib
import logging
import os
import warnings

# Rasa would otherwise try to reach its telemetry service and print TensorFlow chatter.
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")


@contextlib.contextmanager
def quiet_rasa():
    """Import and load Rasa without its dependencies' deprecation warnings (noise for an
    officer running a command; Rasa resets warning filters on import, so a global filter
    does not hold) and with its INFO logging turned down."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.showwarning = lambda *args, **kwargs: None  # restored by catch_warnings
        for name in ("rasa", "tensorflow", "absl"):
            logging.getLogger(name).setLevel(logging.WARNING)
        yield
