"""The admins' NLU inbox (issue 13): what the bot classified, the admins' decisions on it,
training data in Rasa's format, retraining in the worker, an evaluation gate and model
versions. Flask-free: the console, the CLI and the worker call it with plain values.

Modules: `records` (what the conversation writes), `privacy` (personal data out of training
text), `similarity` (near-duplicates), `inbox` (listing and decisions), `dataset` (the Rasa
YAML file, conflicts), `gate` (evaluation and comparison), `versions` (registry, activate,
rollback), `jobs` (training jobs the worker runs).
"""
