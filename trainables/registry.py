"""The one name → scheme dict. Add a scheme here and every contract test covers it."""

from __future__ import annotations

from trainables import fsr_gan, nima_sr, qair_denoise, qrnet
from trainables.contract import Scheme
from trainables.errors import UserInputError

SCHEMES: dict[str, Scheme] = {
    "qair_denoise": qair_denoise.SCHEME,
    "qrnet": qrnet.SCHEME,
    "mqrnet": qrnet.MQRNET,
    "nima_sr": nima_sr.SCHEME,
    "fsr_gan": fsr_gan.SCHEME,
}


def get_scheme(name: str) -> Scheme:
    if name not in SCHEMES:
        raise UserInputError(f"unknown scheme '{name}' (known: {', '.join(SCHEMES) or 'none'})")
    return SCHEMES[name]
