"""The trainer's error type: a machine-readable code that the TypeScript activity maps to retry / no-retry."""

from __future__ import annotations

# Exit codes are part of the CLI contract: 2 = fix your input (not worth retrying), 3 = the model failed its
# export parity gate, 1 = anything else (possibly transient, worth a retry), 75 = interrupted (EX_TEMPFAIL).
EXIT_CODES = {"bad_config": 2, "bad_dataset": 2, "no_gpu": 2, "parity_failed": 3, "internal": 1}
EXIT_INTERRUPTED = 75


class TrainerError(Exception):
    """An expected failure with a stable code; `message` says what to do about it."""

    def __init__(self, code: str, message: str) -> None:
        if code not in EXIT_CODES:
            raise ValueError(f"unknown trainer error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.code]


def bad_config(message: str) -> TrainerError:
    return TrainerError("bad_config", message)


def bad_dataset(message: str) -> TrainerError:
    return TrainerError("bad_dataset", message)
