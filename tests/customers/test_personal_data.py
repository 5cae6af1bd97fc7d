"""Phones are never stored in the clear; look-ups go through a keyed blind index."""

from __future__ import annotations

from cryptography.fernet import Fernet
from pydantic import SecretStr

from loyalty.common import crypto
from loyalty.config import Settings
from tests.conftest import Tenant
from tests.support import payloads

PHONE_DIGITS = "9039993344"


def rows_as_text(tenant: Tenant, table: str) -> str:
    rows = tenant.db.fetch(f"SELECT * FROM {table} WHERE account_id = :a", a=tenant.account_id)
    return repr(rows) + "".join(
        value.hex() + bytes(value).decode("latin-1")
        for row in rows
        for value in row.values()
        if isinstance(value, bytes | memoryview)
    )


class TestPhonesAtRest:
    def test_no_table_holds_the_number(self, tenant: Tenant) -> None:
        customer = tenant.register(phone="+7 903 999-33-44")
        tenant.post(
            "/retaildemand/verify", {"retailStore": payloads.store(), "counterpartyId": customer}
        )
        for table in ("customer", "verification_code"):
            assert PHONE_DIGITS not in rows_as_text(tenant, table), table

    def test_the_ciphertext_opens_with_the_key_only(self, tenant: Tenant) -> None:
        tenant.register(phone="8 903 999 33 44")
        ciphertext = tenant.db.scalar(
            "SELECT phone_ciphertext FROM customer WHERE account_id = :a", a=tenant.account_id
        )
        assert crypto.keyring().decrypt(bytes(ciphertext)) == "+79039993344"
        stranger = crypto.keyring_from_settings(
            Settings(ENCRYPTION_KEYS=SecretStr(Fernet.generate_key().decode()))
        )
        try:
            stranger.decrypt(bytes(ciphertext))
        except ValueError:
            pass
        else:
            raise AssertionError("a foreign key must not decrypt the phone")

    def test_the_same_phone_gives_unrelated_digests_in_two_accounts(
        self, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        for merchant in (tenant, other_tenant):
            merchant.register(phone="+79039993344")
        digests = {
            bytes(
                merchant.db.scalar(
                    "SELECT phone_index FROM customer WHERE account_id = :a", a=merchant.account_id
                )
            )
            for merchant in (tenant, other_tenant)
        }
        assert len(digests) == 2


class TestKeyRotation:
    def test_old_ciphertexts_open_after_a_new_key_is_put_first(self) -> None:
        old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
        before = crypto.keyring_from_settings(Settings(ENCRYPTION_KEYS=SecretStr(old)))
        after = crypto.keyring_from_settings(Settings(ENCRYPTION_KEYS=SecretStr(f"{new},{old}")))
        token = before.encrypt("+79001112233")
        assert after.decrypt(token) == "+79001112233"
        fresh = after.encrypt("+79001112233")
        assert (
            crypto.keyring_from_settings(Settings(ENCRYPTION_KEYS=SecretStr(new))).decrypt(fresh)
            == "+79001112233"
        )
