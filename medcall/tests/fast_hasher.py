"""Test-only password hasher: PBKDF2 with few iterations.

Same algorithm name as Django's default, so a real server subprocess started by a test verifies these
hashes with its normal settings (PBKDF2 hashes carry their iteration count).
"""
from django.contrib.auth.hashers import PBKDF2PasswordHasher


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = 1000
