from __future__ import annotations

from loyalty.common.errors import IdempotencyConflict


class ReturnAlreadyRecordedWithDifferentContent(IdempotencyConflict):
    code = 40903

    def __init__(self) -> None:
        super().__init__(
            "Возврат с этим идентификатором уже проведён с другим составом. Проверьте документ.",
            parameter="meta.id",
        )
