"""The government units: who they are (names in Vietnamese and English, mailboxes) and how
to recognise one named in a message ("cán bộ Sở Xây dựng", "UBND phường Bãi Cháy"), with or
without diacritics. Pure: built from plain values (config.yml `units:`)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional

from routing.gazetteer import fold


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    kind: str
    emails: tuple[str, ...] = ()
    head_email: Optional[str] = None
    name_en: Optional[str] = None  # the province's own English name where it publishes one

    def display(self, lang: str) -> str:
        """The name a reader of `lang` reads (English where we have one)."""
        return self.name_en if lang == "en" and self.name_en else self.name


@dataclass(frozen=True)
class Page:
    """A fanpage of ours, as people read its name (config.yml `pages`)."""

    id: str
    name: str
    name_en: Optional[str] = None

    def display(self, lang: str) -> str:
        return self.name_en if lang == "en" and self.name_en else self.name


class Directory:
    """Units by code, the standing office (which triages and coordinates), and the pages by id
    (so that what people read names a page, never its number)."""

    def __init__(self, units: Iterable[Unit], standing_office: str, pages: Iterable[Page] = ()):
        self._units: Mapping[str, Unit] = {u.code: u for u in units}
        if standing_office not in self._units:
            raise KeyError(f"standing office {standing_office} is not a unit")
        self.standing_office = standing_office
        self._pages: Mapping[str, Page] = {p.id: p for p in pages}

    def page_name(self, page_id: Optional[str], lang: str = "vi") -> str:
        """The page's configured name in `lang`; a page no longer configured is "trang <id>"."""
        page = self._pages.get(page_id) if page_id else None
        if page is not None:
            return page.display(lang)
        return (f"page {page_id}" if lang == "en" else f"trang {page_id}") if page_id else "-"

    def __getitem__(self, code: str) -> Unit:
        return self._units[code]

    def __contains__(self, code: object) -> bool:
        return code in self._units

    def get(self, code: Optional[str]) -> Optional[Unit]:
        return self._units.get(code) if code else None

    def name(self, code: Optional[str], lang: str = "vi") -> str:
        unit = self.get(code)
        return unit.display(lang) if unit else (code or "-")

    @property
    def office(self) -> Unit:
        return self._units[self.standing_office]

    def __iter__(self):
        return iter(self._units.values())


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
