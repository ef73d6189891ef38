"""Which days the ERP drops an export for: the business calendar. A day that expects no drop
(a weekend, a holiday) makes no failed run and no alert; the next send catches up.

`SYNC_BUSINESS_DAYS` names the weekdays (`Mon-Fri`, `Mon,Tue,Wed,Thu,Fri,Sat`, `Mon-Sun`); the
optional holidays file lists one ISO date a line (`#` starts a comment)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class BusinessCalendarError(ValueError):
    pass


@dataclass(frozen=True)
class BusinessCalendar:
    weekdays: frozenset[int]  # 0 = Monday
    holidays: frozenset[dt.date] = frozenset()
    spec: str = "Mon-Fri"

    def expects_drop(self, day: dt.date) -> bool:
        return day.weekday() in self.weekdays and day not in self.holidays

    def why_no_drop(self, day: dt.date) -> str:
        """Why `day` expects no drop (for a skip message); empty when it expects one."""
        if day in self.holidays:
            return f"{day} is a holiday in the business calendar"
        if day.weekday() not in self.weekdays:
            return f"{day} is a {day.strftime('%A')}, not a business day ({self.spec})"
        return ""

    def business_days(self, first: dt.date, last: dt.date) -> Iterator[dt.date]:
        day = first
        while day <= last:
            if self.expects_drop(day):
                yield day
            day += dt.timedelta(days=1)

    @classmethod
    def parse(cls, spec: str, holidays_file: str | Path | None = None) -> BusinessCalendar:
        return cls(_weekdays(spec), _holidays(holidays_file), spec)


def _weekdays(spec: str) -> frozenset[int]:
    days: set[int] = set()
    for part in spec.replace(" ", "").lower().split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        try:
            start = WEEKDAYS.index(first[:3])
            end = WEEKDAYS.index(last[:3]) if last else start
        except ValueError:
            raise BusinessCalendarError(
                f"SYNC_BUSINESS_DAYS={spec!r}: {part!r} is not a weekday or a range like Mon-Fri"
            ) from None
        days.update(range(start, end + 1) if start <= end else [*range(start, 7), *range(end + 1)])
    if not days:
        raise BusinessCalendarError(f"SYNC_BUSINESS_DAYS={spec!r} names no weekday")
    return frozenset(days)


def _holidays(path: str | Path | None) -> frozenset[dt.date]:
    if not path:
        return frozenset()
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise BusinessCalendarError(f"holidays file {path} does not exist") from None
    days = set()
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            days.add(dt.date.fromisoformat(text))
        except ValueError:
            raise BusinessCalendarError(
                f"{path}:{number}: {text!r} is not an ISO date (YYYY-MM-DD)"
            ) from None
    return frozenset(days)
