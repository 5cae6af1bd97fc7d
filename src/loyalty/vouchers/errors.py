"""Voucher and gift certificate failures. Codes 4046x, 4096x, 4126x–4129x, 4296x."""

from __future__ import annotations

from loyalty.common.errors import (
    BusinessRuleViolation,
    IdempotencyConflict,
    InvalidRequest,
    NotFound,
)
from loyalty.common.money import minor_to_roubles


def roubles(amount_minor: int) -> str:
    return f"{minor_to_roubles(amount_minor)} руб."


class BatchNotFound(NotFound):
    code = 40461
    title = "Серия купонов не найдена"

    def __init__(self, reference: object, parameter: str = "batch") -> None:
        super().__init__(f"Серия купонов «{reference}» не найдена.", parameter=parameter)


class VoucherNotFound(NotFound):
    code = 40462
    title = "Купон не найден"

    def __init__(self, reference: object, parameter: str = "code") -> None:
        super().__init__(
            f"Купон или сертификат «{reference}» не найден. Проверьте номер.", parameter=parameter
        )


class UnknownVoucherCode(VoucherNotFound):
    """A miss of a POS code look-up: it counts towards the client's lockout."""

    keeps_changes = True


class GiftCardNotFound(NotFound):
    code = 40463
    title = "Сертификат не найден"
    keeps_changes = True  # the failed look-up counts towards the till's lockout

    def __init__(self, name: str, *, typo: bool = False) -> None:
        message = (
            f"Номер сертификата «{name}» введён с ошибкой: не сходится контрольный символ."
            " Проверьте номер."
            if typo
            else f"Сертификат № {name} не найден в программе лояльности. Проверьте номер."
        )
        super().__init__(message, parameter="name")


class SaleNotFound(NotFound):
    code = 40464
    title = "Продажа не найдена"

    def __init__(self, reference: str) -> None:
        super().__init__(f"Продажа «{reference}» не найдена.", parameter="sale_id")


class BatchCodeTaken(IdempotencyConflict):
    code = 40961

    def __init__(self, batch_code: str) -> None:
        super().__init__(f"Серия с кодом «{batch_code}» уже есть.", parameter="code")


class VoucherCodeTaken(IdempotencyConflict):
    code = 40962

    def __init__(self, code: str, parameter: str = "code") -> None:
        super().__init__(f"Купон с кодом «{code}» уже есть.", parameter=parameter)


class VoucherAssignedToAnotherCustomer(IdempotencyConflict):
    code = 40963

    def __init__(self) -> None:
        super().__init__("Купон уже выдан другому покупателю.", parameter="customer")


class GenerationKeyReused(IdempotencyConflict):
    code = 40964

    def __init__(self) -> None:
        super().__init__(
            "Этот Idempotency-Key уже использован для генерации другой серии или количества.",
            parameter="Idempotency-Key",
        )


class InvalidVoucherSetting(InvalidRequest):
    code = 41261


class VoucherStateRefused(BusinessRuleViolation):
    """An operation the voucher's current status does not allow (issue, void, adjust…)."""

    code = 41262


class InsufficientVoucherBalance(BusinessRuleViolation):
    code = 41263
    title = "Недостаточно средств на сертификате"

    def __init__(
        self, *, available_minor: int, requested_minor: int, parameter: str, number: str = ""
    ) -> None:
        on = f" № {number}" if number else ""
        super().__init__(
            f"Недостаточно средств на сертификате{on}: доступно {roubles(available_minor)},"
            f" к оплате {roubles(requested_minor)}.",
            parameter=parameter,
        )


class GiftCardRefused(BusinessRuleViolation):
    """A certificate in `giftCards[]` that cannot pay this sale; nothing of the sale is applied."""

    code = 41264
    title = "Оплата сертификатом невозможна"


class GiftCardsExceedReceipt(BusinessRuleViolation):
    code = 41265
    title = "Оплата сертификатами больше суммы чека"

    def __init__(self, paid_minor: int, receipt_minor: int) -> None:
        super().__init__(
            f"Оплата сертификатами ({roubles(paid_minor)}) больше суммы чека"
            f" ({roubles(receipt_minor)}). Проверьте суммы оплаты.",
            parameter="giftCards",
        )


class VoucherNoLongerAvailable(BusinessRuleViolation):
    """The personal voucher the receipt was priced with is gone; like points, recalc."""

    code = 41266
    title = "Купон уже использован"

    def __init__(self) -> None:
        super().__init__(
            "Персональный купон покупателя уже использован или больше не действует"
            " (например, на другой кассе). Пересчитайте чек.",
            parameter="positions",
        )


class VoucherNotInReceipt(BusinessRuleViolation):
    code = 41267
    title = "Скидка по купону не совпадает"

    def __init__(self) -> None:
        super().__init__(
            "Скидка в чеке не совпадает со скидкой по купону покупателя. Пересчитайте чек.",
            parameter="positions",
        )


class VoucherRedeemRefused(BusinessRuleViolation):
    """A code-based redemption (compatibility APIs) that the voucher's terms refuse."""

    code = 41268
    title = "Купон нельзя использовать"


class WrongPin(BusinessRuleViolation):
    code = 41269
    title = "Неверный PIN"

    def __init__(self) -> None:
        super().__init__("Неверный PIN-код купона.", parameter="pin")


class CsvImportRefused(InvalidRequest):
    code = 41270
    title = "Файл не импортирован"
