"""The Rasa NLU project (pipeline, training data) and classification behind one interface.

Importing this package is cheap: Rasa and TensorFlow are imported only when a model is
trained or loaded, so the web process can import `nlu.normalize` freely.
"""
import os

# Rasa would otherwise try to reach its telemetry service and print TensorFlow chatter.
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
