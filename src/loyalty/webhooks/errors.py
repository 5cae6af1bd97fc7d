from __future__ import annotations

from loyalty.common.errors import InvalidRequest, NotFound


class WebhookNotFound(NotFound):
    code = 40470

    def __init__(self, endpoint_id: int) -> None:
        super().__init__(f"Вебхук {endpoint_id} не найден.", parameter="endpoint_id")


class InvalidWebhook(InvalidRequest):
    code = 41270
