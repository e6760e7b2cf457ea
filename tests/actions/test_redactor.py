"""Secret redaction across arbitrary read boundaries, against a brute-force reference."""

from __future__ import annotations

import random

from app.actions import builtins
from workers.engine.logs import REDACTED, Redactor


def _reference_tail(secrets: list[str], text: str) -> int:
    """Try every tail length (the definition of what may be held back)."""
    longest = max(len(s) for s in secrets) - 1
    for size in range(min(longest, len(text)), 0, -1):
        if any(secret.startswith(text[-size:]) for secret in secrets):
            return size
    return 0


def _fed(redactor: Redactor, pieces: list[str]) -> str:
    return "".join(redactor.feed(piece) for piece in pieces) + redactor.flush()


def test_held_tail_matches_trying_every_length() -> None:
    rng = random.Random(7)
    alphabet = "ab-\n=K"
    for _ in range(3000):
        secrets = ["".join(rng.choice(alphabet) for _ in range(rng.randint(4, 12)))
                   for _ in range(rng.randint(1, 3))]
        redactor = Redactor(secrets)
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        text = redactor._redact(text)
        assert redactor._partial_tail(text) == _reference_tail(redactor.secrets, text), (
            secrets, text)


def test_secrets_split_anywhere_never_get_through() -> None:
    rng = random.Random(11)
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END-----"
    secrets = [key, "hunter2-password", "s3cr"]
    for _ in range(500):
        parts = [rng.choice(["log line\n", "-", "--", "hunter", key, "hunter2-password",
                             "s3cr", "s3", "=====", "\n"]) for _ in range(rng.randint(1, 12))]
        whole = "".join(parts)
        cuts = sorted(rng.sample(range(len(whole) + 1), k=min(len(whole) + 1, 4)))
        pieces = [whole[a:b] for a, b in zip([0, *cuts], [*cuts, len(whole)], strict=True)]
        out = _fed(Redactor(secrets), pieces)
        assert out == _fed(Redactor(secrets), [whole])  # boundaries change nothing
        for secret in secrets:
            assert secret not in out
        if any(secret in whole for secret in secrets):
            assert REDACTED in out


def test_output_that_could_start_a_result_token_is_not_held_back() -> None:
    """A result line's token is taken out with its marker: live output ending in what
    could start the token (hex) goes out at once, and a result line split anywhere loses
    its token and keeps its marker."""
    token = "d" + "0123456789abcdef" * 2
    prefix = f"{builtins.RESULT_MARKER}{token} "
    redactor = Redactor(["s3cr3t-value"])
    redactor.remove(prefix, builtins.RESULT_MARKER)
    assert redactor.feed("==> build\nstarted") == "==> build\nstarted"
    assert redactor.feed("\nd") == "\nd"
    line = f"\n{prefix}release=2026-12-06 00:00:00\n"
    for cut in range(1, len(line)):
        redactor = Redactor([])
        redactor.remove(prefix, builtins.RESULT_MARKER)
        out = redactor.feed(line[:cut]) + redactor.feed(line[cut:]) + redactor.flush()
        assert out == f"\n{builtins.RESULT_MARKER}release=2026-12-06 00:00:00\n", cut
