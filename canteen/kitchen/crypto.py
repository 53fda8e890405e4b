"""Camera credentials at rest: AES-GCM (cryptography), key derived with HKDF-SHA256 from
CANTEEN_CAMERA_KEY (environment or settings) or, failing that, SECRET_KEY. The camera id is the
associated data, so a ciphertext copied onto another camera row does not decrypt."""

from __future__ import annotations

import base64
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from .errors import CredentialsUnreadable

_INFO = b"canteen.kitchen.camera-credentials.v1"


def _key() -> bytes:
    secret = os.environ.get("CANTEEN_CAMERA_KEY") or getattr(settings, "CANTEEN_CAMERA_KEY", "") or settings.SECRET_KEY
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())


def encrypt_credentials(camera_id: str, username: str, password: str) -> str:
    if not username and not password:
        return ""
    nonce = os.urandom(12)
    plain = json.dumps({"u": username, "p": password}).encode()
    sealed = AESGCM(_key()).encrypt(nonce, plain, str(camera_id).encode())
    return base64.b64encode(nonce + sealed).decode()


def decrypt_credentials(camera_id: str, token: str) -> tuple[str, str]:
    if not token:
        return "", ""
    try:
        raw = base64.b64decode(token)
        plain = AESGCM(_key()).decrypt(raw[:12], raw[12:], str(camera_id).encode())
    except (InvalidTag, ValueError) as exc:
        raise CredentialsUnreadable() from exc
    data = json.loads(plain)
    return data["u"], data["p"]
