"""Password hashing (Argon2id), the password policy and one-time passwords."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from vigil.errors import VigilError

MIN_LENGTH = 12
# Argon2 pre-hashes the password, so length costs little; the cap only rejects absurd input.
MAX_LENGTH = 1024

# RFC 9106 (section 4) recommends t=3 with 64 MiB as the choice for memory-constrained
# machines, and 64 MiB is three times OWASP's floor (19 MiB, t=2). One lane rather than the
# RFC's four: Vigil's edge boxes are small and busy recording, so a login burst should occupy
# one core, not all of them; the cost to an attacker stays memory-bound. About 0.2 s a hash on
# a 2-core x86 box; the login throttle bounds how many run at once.
_HASHER = PasswordHasher(
    time_cost=3, memory_cost=64 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)

# Verified against when the account does not exist, so an unknown name costs the same time
# as a wrong password. Its parameters must match _HASHER's (a test checks needs_rehash).
DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=1$2458caNW+4S44FWbc618Yg"
    "$YdldTOKMOQqGU7JvqmZixFoazCySW4TP+ChcwEArWfo"
)


class PasswordPolicyError(VigilError):
    """A new password does not meet the policy; the message says what to choose instead."""


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether the password matches; a malformed stored hash never matches."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's and should be replaced."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def dummy_verify(password: str) -> None:
    """Spend the time of one verification, for a name that has no account."""
    verify_password(DUMMY_HASH, password)


def check_password_policy(name: str, password: str) -> None:
    """Raise PasswordPolicyError unless the password is fit for the account `name`."""
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(
            f"the password for {name!r} has {len(password)} characters; use at least "
            f"{MIN_LENGTH}, for example a phrase of four or more unrelated words"
        )
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(
            f"the password for {name!r} is longer than {MAX_LENGTH} characters; use a shorter one"
        )
    if not password.strip():
        raise PasswordPolicyError(f"the password for {name!r} is only spaces; choose another")
    if name and name.casefold() in password.casefold():
        raise PasswordPolicyError(
            f"the password for {name!r} contains the user name; choose one that does not"
        )


def generate_one_time_password() -> str:
    """20 URL-safe random characters (120 bits), to be read out once and then changed."""
    return secrets.token_urlsafe(15)


def one_time_password_for(name: str) -> str:
    """A one-time password that passes the policy for `name` (a random one rarely does not)."""
    while True:
        password = generate_one_time_password()
        try:
            check_password_policy(name, password)
        except PasswordPolicyError:
            continue
        return password
