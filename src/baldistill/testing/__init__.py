"""Test helpers (fake services) for baldistill."""
