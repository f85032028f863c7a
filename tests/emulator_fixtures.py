"""Pytest fixtures for the Cloud API emulator (filled in with the emulator)."""
