"""Authenticated encryption of face data at rest and in transit (AES-256-GCM).

The associated data binds each ciphertext to its owner (the student id, or the campus id for a
terminal package), so a template copied onto another student's row fails to decrypt instead of
silently matching the wrong child. Layout: b"v1" + 12-byte nonce + ciphertext‖tag.
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import TemplateKeyMissing

_PREFIX = b"v1"


@lru_cache(maxsize=8)
def _derive(key_b64: str, purpose: str) -> bytes:
    try:
        root = base64.b64decode(key_b64, validate=True)
    except Exception:
        raise TemplateKeyMissing() from None
    if len(root) < 32:
        raise TemplateKeyMissing("人脸模板密钥至少需要 32 字节", "FACE_TEMPLATE_KEY must decode to at least 32 bytes")
    # Purpose-specific keys from one configured secret: templates at rest and each campus's
    # terminal packages never share a key.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(root)


def derived_key(purpose: str) -> bytes:
    from django.conf import settings

    key_b64 = getattr(settings, "FACE_TEMPLATE_KEY", "") or ""
    if not key_b64:
        raise TemplateKeyMissing()
    return _derive(key_b64, purpose)


_AT_REST = "canteen.identity.at-rest.v1"


def _key(key_b64: str | None = None) -> AESGCM:
    return AESGCM(_derive(key_b64, _AT_REST) if key_b64 else derived_key(_AT_REST))


def seal(plaintext: bytes, *, bound_to: str) -> bytes:
    nonce = os.urandom(12)
    return _PREFIX + nonce + _key().encrypt(nonce, plaintext, bound_to.encode())


def open_sealed(blob: bytes, *, bound_to: str, key_b64: str | None = None) -> bytes:
    """Raises ValueError when the blob was altered, moved to another owner, or the key changed.
    `key_b64` opens with another root key than the configured one (key rotation)."""
    blob = bytes(blob)
    if not blob.startswith(_PREFIX) or len(blob) < len(_PREFIX) + 12 + 16:
        raise ValueError("not a sealed blob")
    nonce = blob[2:14]
    try:
        return _key(key_b64).decrypt(nonce, blob[14:], bound_to.encode())
    except InvalidTag:
        raise ValueError("sealed blob failed authentication") from None


def reseal(blob: bytes, *, bound_to: str, old_key_b64: str) -> bytes | None:
    """The blob sealed under the configured key, or None when it already is."""
    try:
        open_sealed(blob, bound_to=bound_to)
        return None
    except ValueError:
        pass
    return seal(open_sealed(blob, bound_to=bound_to, key_b64=old_key_b64), bound_to=bound_to)


def seal_embedding(embedding: np.ndarray, *, student_id: str) -> bytes:
    vec = np.asarray(embedding, dtype="<f4").reshape(128)
    return seal(vec.tobytes(), bound_to=f"face-template:{student_id}")


def open_embedding(blob: bytes, *, student_id: str) -> np.ndarray:
    return np.frombuffer(open_sealed(blob, bound_to=f"face-template:{student_id}"), dtype="<f4").copy()
