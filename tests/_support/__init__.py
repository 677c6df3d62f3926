"""Helpers the test modules share: plain functions, classes and constants.

No test module imports from another test module (``tests/test_architecture.py`` checks
it): a built image several modules use is a fixture of the ``conftest.py`` that serves
them all, and everything else they share lives here.
"""
