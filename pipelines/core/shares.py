"""A share and its limit in words a person can compare: rounding must never hide the comparison
("0.0% ... above the 0.0% limit"), so each is printed with as many digits as it takes to tell
the two apart."""

from __future__ import annotations


def percent(share: float, against: float | None = None) -> str:
    """`share` as a percentage, 3 significant digits, more while it reads like `against`
    (0.0001 against 0.00012: '0.01%' and '0.012%')."""
    for digits in range(3, 18):
        text = f"{share * 100:.{digits}g}%"
        if against is None or share == against or text != f"{against * 100:.{digits}g}%":
            return text
    return f"{share * 100!r}%"


def share_against_limit(share: float, limit: float, setting: str) -> str:
    """'0.199% is above MAX_REJECT_SHARE=0.0001 (0.01%)': the verb says the comparison, the
    setting shows as it was set and as a percentage."""
    verb = "is above" if share > limit else "is within"
    return f"{percent(share, limit)} {verb} {setting}={limit:g} ({percent(limit, share)})"
