"""Recognise units named in a message ("cán bộ Sở Xây dựng", "UBND phường Bãi Cháy"), with or
without diacritics. Pure: built from (code, names) pairs."""
from __future__ import annotations

import re
from typing import Iterable

from routing.gazetteer import fold


class UnitMatcher:
    def __init__(self, units: Iterable[tuple[str, Iterable[str]]]):
        self._by_key: dict[str, str] = {}
        for code, names in units:
            for name in names:
                key = fold(name).strip()
                if len(key) >= 2:
                    self._by_key.setdefault(key, code)
        keys = sorted(self._by_key, key=len, reverse=True)
        self._pattern = re.compile(r"(?<![\w])(" + "|".join(map(re.escape, keys)) + r")(?![\w])") if keys else None

    @staticmethod
    def names_for(name: str, kind: str, aliases: Iterable[str]) -> list[str]:
        """A commune's unit is also written without "UBND" ("phường Bãi Cháy")."""
        names = [name, *aliases]
        if kind == "dia_phuong" and name.startswith("UBND "):
            names.append(name[len("UBND "):])
        return names

    def find(self, text: str) -> tuple[str, ...]:
        """Codes of the units named in `text`, in order of first mention, without repeats."""
        if self._pattern is None:
            return ()
        found = [self._by_key[m.group(1)] for m in self._pattern.finditer(fold(text))]
        return tuple(dict.fromkeys(found))
