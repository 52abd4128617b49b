"""``fold`` through its translate table folds exactly as the per-character definition does."""

from __future__ import annotations

import random
import unicodedata

from bus.domain.personal import fold


def by_character(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def test_fold_is_the_per_character_definition() -> None:
    texts = ["Fiscalía General", "ÑANDÚ Pérez ß ﬁ", "Ёж Москва", "日本語", "a\u0301b", "ok"]
    rng = random.Random(7)
    texts += ["".join(chr(rng.randint(32, 0x2FFF)) for _ in range(24)) for _ in range(3000)]
    assert [fold(t) for t in texts] == [by_character(t) for t in texts]
    assert fold("Fiscalía") == "fiscalia"
