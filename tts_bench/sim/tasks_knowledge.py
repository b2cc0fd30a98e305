"""Placeholder: not recognised yet."""


def parse(text: str) -> None:
    return None
