"""tinytorch — a small PyTorch you build yourself, one kata at a time.

Modules are imported lazily, so a mistake in a later kata's file never breaks an earlier kata:
``tinytorch.Tensor`` imports ``tinytorch.tensor`` the first time you use it.
"""

import importlib

_EXPORTS = {
    "Tensor": "tinytorch.tensor",
    "no_grad": "tinytorch.autograd",
    "Function": "tinytorch.autograd",
    "backend": "tinytorch.acceleration",
    "set_backend": "tinytorch.acceleration",
    "get_backend": "tinytorch.acceleration",
}


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    try:
        return importlib.import_module(f"tinytorch.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"tinytorch.{name}":
            raise
        raise AttributeError(f"module 'tinytorch' has no attribute {name!r}") from None
