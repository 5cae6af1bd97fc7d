"""Russian plural forms for cashier messages ("1 балл", "2 балла", "5 баллов")."""

from __future__ import annotations


def plural(number: int, one: str, few: str, many: str) -> str:
    tail = abs(number) % 100
    if 11 <= tail <= 14:
        return many
    last = tail % 10
    if last == 1:
        return one
    if 2 <= last <= 4:
        return few
    return many


def points_phrase(points: int) -> str:
    return f"{points} {plural(points, 'балл', 'балла', 'баллов')}"
