"""Pytest fixtures shared by every test module (registered in tests/conftest.py)."""
