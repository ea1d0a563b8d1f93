"""Custom Rasa graph components, referenced from nlu/config.yml by module path.

They live in the project (not in a package) so that training, the worker and a
`rasa run` server started from the repository root (PYTHONPATH=.) load the same code.
"""
