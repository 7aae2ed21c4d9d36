"""Passwords of provisioning requests: Fernet-encrypted in ``igi.event_out.password`` (plain text only when
``SS_IGI_ALLOW_PLAINTEXT_PASSWORDS`` allows it), decrypted only in memory, and registered with the log
redaction the moment they are seen in clear, so no log line or exception text can carry them."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from pipelines.logs import register_secret
from pipelines.settings import Settings

_NO_KEY = ("no Fernet key (SS_IGI_FERNET_KEY or SS_IGI_FERNET_KEY_BLOCK) to encrypt the password, and "
           "SS_IGI_ALLOW_PLAINTEXT_PASSWORDS is off; make a key with: python -c \"from cryptography.fernet import "
           "Fernet; print(Fernet.generate_key().decode())\"")


class PasswordError(ValueError):
    """A password cannot be used: no key, wrong key, or plain text not allowed. Never carries the password."""


class PasswordBox:
    """Encrypts and decrypts request passwords with one Fernet key."""

    def __init__(self, key: SecretStr | str | None, *, allow_plaintext: bool = False) -> None:
        raw = key.get_secret_value() if isinstance(key, SecretStr) else key
        self._fernet = Fernet(raw.encode()) if raw else None
        self.allow_plaintext = allow_plaintext

    @classmethod
    def from_settings(cls, settings: Settings) -> PasswordBox:
        """The box for the configured key (SS_IGI_FERNET_KEY) and plain-text policy."""
        return cls(settings.ss_igi_fernet_key_value(), allow_plaintext=settings.ss_igi_allow_plaintext_passwords)

    @staticmethod
    def generate_key() -> str:
        """A new Fernet key, as text."""
        return Fernet.generate_key().decode()

    def check_can_seal(self) -> None:
        """Raise `PasswordError` when `seal` would refuse (no key, plain text not allowed): ask before prompting."""
        if self._fernet is None and not self.allow_plaintext:
            raise PasswordError(_NO_KEY)

    def seal(self, password: str) -> tuple[str, bool]:
        """What to store for ``password``: ``(token, True)``, or ``(password, False)`` when there is no key and
        plain text is allowed."""
        register_secret(password)
        if self._fernet is not None:
            return self._fernet.encrypt(password.encode()).decode(), True
        if self.allow_plaintext:
            return password, False
        raise PasswordError(_NO_KEY)

    def open(self, stored: str | None, encrypted: bool) -> SecretStr:
        """The password in clear, as a SecretStr (so a stray print or repr shows ``**********``)."""
        if not stored:
            raise PasswordError("the request carries no password")
        if not encrypted:
            if not self.allow_plaintext:
                raise PasswordError("the password is in plain text and SS_IGI_ALLOW_PLAINTEXT_PASSWORDS is off")
            register_secret(stored)
            return SecretStr(stored)
        if self._fernet is None:
            raise PasswordError("the password is encrypted and no Fernet key is configured (SS_IGI_FERNET_KEY)")
        try:
            clear = self._fernet.decrypt(stored.encode()).decode()
        except InvalidToken:
            raise PasswordError("the password cannot be decrypted with the configured Fernet key") from None
        register_secret(clear)
        return SecretStr(clear)
