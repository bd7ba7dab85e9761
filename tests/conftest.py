"""Shared test configuration. Model paths live in mlc.testing.models so benchmarks can use them."""
