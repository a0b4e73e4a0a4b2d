"""The four colours of the Chinese four-colour risk map, and the grade that carries one.

The one definition of the risk-level vocabulary: everything that names, ranks, colours or
raises a level uses it.

=========  =========  ==========  ==========================
level      colour     name        meaning
=========  =========  ==========  ==========================
``red``    #FF0000    重大风险     major risk
``orange`` #FF7F00    较大风险     considerable risk
``yellow`` #FFFF00    一般风险     general risk
``blue``   #0000FF    低风险       low risk
=========  =========  ==========  ==========================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geo.errors import ValidationError

__all__ = [
    "LEVELS",
    "LEVEL_RANK",
    "COLOURS",
    "NAMES_ZH",
    "NAMES_EN",
    "Grade",
    "to_number",
    "level_from_rank",
    "rank_of",
    "raise_level",
    "parse_level",
    "colour_of",
]

# Highest first. Ranks: blue 1 ... red 4; 0 means "no risk assessed".
LEVELS: tuple[str, ...] = ("red", "orange", "yellow", "blue")
LEVEL_RANK: dict[str, int] = {"red": 4, "orange": 3, "yellow": 2, "blue": 1}
COLOURS: dict[str, str] = {
    "red": "#FF0000",
    "orange": "#FF7F00",
    "yellow": "#FFFF00",
    "blue": "#0000FF",
}
NAMES_ZH: dict[str, str] = {
    "red": "重大风险",
    "orange": "较大风险",
    "yellow": "一般风险",
    "blue": "低风险",
}
NAMES_EN: dict[str, str] = {
    "red": "major risk",
    "orange": "considerable risk",
    "yellow": "general risk",
    "blue": "low risk",
}


@dataclass(frozen=True)
class Grade:
    """The result of grading one risk.

    ``score`` is D (LEC) or R (LS); ``level`` one of :data:`LEVELS`; ``inputs`` the
    validated factors (``l``, ``e``, ``c`` or ``likelihood``, ``severity`` and the severity
    dimensions).
    """

    method: str
    score: float
    level: str
    inputs: dict[str, Any]
    band: str = ""
    band_zh: str = ""

    @property
    def colour(self) -> str:
        return COLOURS[self.level]

    @property
    def rank(self) -> int:
        return LEVEL_RANK[self.level]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: method, score, level, colour, names, band and inputs."""
        doc: dict[str, Any] = {
            "method": self.method,
            "score": to_number(self.score),
            "level": self.level,
            "colour": self.colour,
            "level_zh": NAMES_ZH[self.level],
            "level_en": NAMES_EN[self.level],
        }
        if self.band:
            doc["band"] = self.band
        if self.band_zh:
            doc["band_zh"] = self.band_zh
        doc["inputs"] = {k: to_number(v) if isinstance(v, float) else v
                         for k, v in self.inputs.items()}
        return doc


def to_number(x: float) -> float | int:
    """An integral float as int (270.0 -> 270), else the float."""
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return x




def parse_level(value: Any, field: str = "level") -> str:
    """A level name (case-insensitive; Chinese names accepted), else ValidationError."""
    if isinstance(value, str):
        v = value.strip().lower()
        if v in LEVEL_RANK:
            return v
        for k, zh in NAMES_ZH.items():
            if value.strip() in (zh, zh[:-2]):
                return k
    raise ValidationError(f"{value!r} is not a level; use one of {', '.join(LEVELS)}", field=field)


def rank_of(level: str | None) -> int:
    """4 for red ... 1 for blue, 0 for None."""
    return 0 if level is None else LEVEL_RANK[level]


def level_from_rank(rank: int) -> str | None:
    """Inverse of :func:`rank_of` (ranks above 4 are red)."""
    if rank <= 0:
        return None
    return LEVELS[4 - min(int(rank), 4)]


def raise_level(level: str | None, steps: int = 1) -> str:
    """The level ``steps`` higher (capped at red); no level counts as blue."""
    return level_from_rank(max(rank_of(level), 1) + steps) or "blue"


def colour_of(level: str | None) -> str | None:
    """The level's colour (``#RRGGBB``), None for None."""
    return None if level is None else COLOURS[level]
