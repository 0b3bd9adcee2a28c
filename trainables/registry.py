"""The one name → scheme mapping. Add a scheme here and every contract test covers it."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping

from trainables.contract import Scheme
from trainables.errors import UserInputError


class _Schemes(MutableMapping):
    """name → ``Scheme``, each scheme's package imported the first time it is asked for: a trial's
    worker process then imports only its own scheme (all of them cost it about a second)."""

    def __init__(self, where: dict[str, str]):
        self._where = dict(where)  # name -> "package:attribute"
        self._loaded: dict[str, Scheme] = {}

    def __getitem__(self, name: str) -> Scheme:
        if name not in self._loaded:
            package, attribute = self._where[name].split(":")
            self._loaded[name] = getattr(importlib.import_module(package), attribute)
        return self._loaded[name]

    def __setitem__(self, name: str, scheme: Scheme) -> None:
        self._where[name] = ""
        self._loaded[name] = scheme

    def __delitem__(self, name: str) -> None:
        del self._where[name]
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


SCHEMES: MutableMapping[str, Scheme] = _Schemes({
    "qair_denoise": "trainables.qair_denoise:SCHEME",
    "qair_sr": "trainables.qair_sr:SCHEME",
    "qair_joint": "trainables.qair_joint:SCHEME",
    "qrnet": "trainables.qrnet:SCHEME",
    "mqrnet": "trainables.qrnet:MQRNET",
    "nima_sr": "trainables.nima_sr:SCHEME",
    "fsr_gan": "trainables.fsr_gan:SCHEME",
    "fidelity": "trainables.fidelity:SCHEME",
    "qair_features": "trainables.qair_features:SCHEME",
})


def get_scheme(name: str) -> Scheme:
    if name not in SCHEMES:
        raise UserInputError(f"unknown scheme '{name}' (known: {', '.join(SCHEMES) or 'none'})")
    return SCHEMES[name]
