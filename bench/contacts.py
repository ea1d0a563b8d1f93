"""Contact search benchmark: bot.conversation.contacts_in (phone and e-mail in a message) on
64 kB of adversarial text, where the former e-mail pattern was quadratic (7.8 s on 64 kB
without an "@" structure). The tests check what is searched (a bounded prefix, bounded runs);
the time is measured here.

Run with `python -m bench contacts`, or `python -m bench.contacts --old` to also time the former
pattern (on 16 kB only: on 64 kB it takes seconds).
"""
from __future__ import annotations

import argparse
import re
import time
from typing import Callable

OLD_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
SIZE = 65536
TEXTS: dict[str, Callable[[int], str]] = {
    "letters": lambda n: "a" * n,
    "dotted": lambda n: "a." * (n // 2),
    "at-signs": lambda n: "a@" * (n // 2),
    "long-domain": lambda n: "a@b" + ".c" * (n // 2 - 2),
    "many-locals": lambda n: ("x" * 60 + "@") * (n // 61),
    "prose+email": lambda n: ("Cho em hỏi thủ tục " * (n // 19))[: n - 20] + " a.b@congty.vn",
}


def _best_ms(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench contacts", description=__doc__.splitlines()[0])
    parser.add_argument("--old", action="store_true", help="also time the former e-mail pattern (16 kB)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    from bot.conversation.contacts import EMAIL, contacts_in

    print(f"{'text':14} {'contacts_in ms':>15} {'EMAIL on all 64 kB ms':>22}" + (f" {'old on 16 kB ms':>16}" if args.old else ""))
    for name, make in TEXTS.items():
        text = make(SIZE)
        row = f"{name:14} {_best_ms(lambda: contacts_in(text), args.repeat):15.2f} "
        row += f"{_best_ms(lambda: list(EMAIL.finditer(text)), args.repeat):22.2f}"
        if args.old:
            short = make(SIZE // 4)
            row += f" {_best_ms(lambda: OLD_EMAIL.search(short), 1):16.1f}"
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
