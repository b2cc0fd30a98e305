"""Placeholder until the generator lands."""


def generate(size: int = 300, seed: int = 0) -> list[dict]:
    raise ValueError("builtin:tickets is not available yet")
