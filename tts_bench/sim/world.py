"""A seeded synthetic world of entities and their attributes.

Facts are a pure function of an entity's name (a stable hash picks each attribute's value
and the entity's popularity), so the `knowledge` dataset and the simulated models agree on
the world without storing it: the generator asks questions about it, and each simulated
model has "read about" each fact with a probability that rises with the entity's popularity.
"""

from __future__ import annotations

import hashlib
import random

COUNTRIES = [
    "Almoria",
    "Brevania",
    "Castellane",
    "Dovria",
    "Estmark",
    "Fenwick",
    "Galdor",
    "Hollin",
    "Istria Minor",
    "Jorvale",
]
RIVERS = ["Osk", "Velda", "Marrow", "Tessin", "Cald", "Ibrin", "Lune", "Sorrel"]
GOODS = ["salt", "copper", "wool", "glassware", "timber", "spices", "tea", "silk"]
FIELDS = [
    "astronomy",
    "botany",
    "chemistry",
    "geology",
    "linguistics",
    "mathematics",
    "medicine",
    "optics",
]
INSTRUMENTS = [
    "the tide gauge",
    "the seed drill",
    "the heliograph",
    "the lens grinder",
    "the wind meter",
    "the clock escapement",
    "the water still",
    "the seismoscope",
]
INDUSTRIES = [
    "shipping",
    "textiles",
    "mining",
    "software",
    "brewing",
    "insurance",
    "printing",
    "aviation",
]
ANIMALS = ["a heron", "a fox", "an otter", "a lynx", "a stag", "a badger", "a falcon", "a hare"]

# category -> attribute -> (question template, value pool)
SCHEMA: dict[str, dict[str, tuple[str, list[str]]]] = {
    "city": {
        "country": ("In which country is the city of {e}?", COUNTRIES),
        "river": ("Which river flows through the city of {e}?", RIVERS),
        "export": ("What is the main export of the city of {e}?", GOODS),
    },
    "scientist": {
        "field": ("In which field did the scientist {e} work?", FIELDS),
        "homeland": ("In which country was the scientist {e} born?", COUNTRIES),
        "instrument": ("Which instrument did the scientist {e} invent?", INSTRUMENTS),
    },
    "company": {
        "industry": ("In which industry does the company {e} operate?", INDUSTRIES),
        "headquarters": ("In which country is the company {e} headquartered?", COUNTRIES),
        "mascot": ("What is the mascot of the company {e}?", ANIMALS),
    },
}
POPULARITY = ("high", "medium", "low")
_SYL = [
    "var",
    "nol",
    "bre",
    "tan",
    "quel",
    "mor",
    "dri",
    "sel",
    "kan",
    "ost",
    "lir",
    "ven",
    "ham",
    "cor",
    "thal",
    "ul",
    "phe",
    "ras",
    "mi",
    "gor",
    "del",
    "ith",
    "zan",
    "bo",
]
_FIRST = ["Ilsa", "Tomas", "Renata", "Orin", "Marek", "Hedda", "Caius", "Lotte", "Anselm", "Vera"]
_SUFFIX = {
    "city": ["holt", "burg", "mere", "ford", "wick", "stad"],
    "company": [" Systems", " & Sons", " Holdings", " Works", " Group", " Trading"],
}


def _h(*parts: str) -> int:
    return int.from_bytes(hashlib.blake2b("|".join(parts).encode(), digest_size=8).digest(), "big")


def entity_name(category: str, rng: random.Random) -> str:
    stem = "".join(rng.choice(_SYL) for _ in range(rng.randint(2, 3))).capitalize()
    if category == "scientist":
        return f"{rng.choice(_FIRST)} {stem}"
    return stem + rng.choice(_SUFFIX[category])


def fact(category: str, entity: str, attribute: str) -> str:
    """The true value of an attribute in this world."""
    pool = SCHEMA[category][attribute][1]
    return pool[_h("fact", category, entity, attribute) % len(pool)]


def popularity(entity: str) -> str:
    """How much is written about an entity: high 20%, medium 40%, low 40%."""
    r = _h("popularity", entity) % 10
    return "high" if r < 2 else "medium" if r < 6 else "low"
