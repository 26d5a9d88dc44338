"""XChaCha20-Poly1305 against the vectors of draft-irtf-cfrg-xchacha (sections 2.2.1, A.3.1)."""

import pytest

from shieldmutual.shared import xchacha
from shieldmutual.shared.errors import CryptoError


def test_hchacha20_draft_vector():
    subkey = xchacha.hchacha20(bytes(range(32)), bytes.fromhex("000000090000004a0000000031415927"))
    assert subkey.hex() == "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc"


def test_xchacha20poly1305_draft_vector():
    key = bytes(range(0x80, 0xA0))
    nonce = bytes(range(0x40, 0x58))
    aad = bytes.fromhex("50515253c0c1c2c3c4c5c6c7")
    plaintext = (
        b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
        b"the future, sunscreen would be it."
    )
    sealed = xchacha.xchacha20poly1305_encrypt(key, nonce, plaintext, aad)
    assert sealed[:32].hex() == "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
    assert sealed[-16:].hex() == "c0875924c1c7987947deafd8780acf49"
    assert xchacha.xchacha20poly1305_decrypt(key, nonce, sealed, aad) == plaintext
    with pytest.raises(CryptoError, match="authentication failed"):
        xchacha.xchacha20poly1305_decrypt(key, nonce, sealed, aad + b"!")
