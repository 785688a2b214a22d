"""The "gateway" behind the example adapter: plain Python, no gRPC, so that it reads on its own.

A real adapter replaces `ExampleGateway._perform_effect` with a call to its payment gateway and
`KeyStore` with a table in its own database. What must survive that replacement is the shape of
`ExampleGateway.pay`:

  1. validate the request before anything happens (an invalid request causes nothing);
  2. take the lock of the idempotency key, so that concurrent calls with one key are serialised;
  3. if the key already has a recorded result, answer that result: no second effect;
  4. otherwise perform the effect once, record its result durably, and only then answer.

That is THE IDEMPOTENCY RULE of protos/payorch/gateway/v1/gateway.proto.

Scripted behaviour (the event's `token`, so that tests and rehearsals can choose an outcome):
  anything else        APPROVED, a new gateway reference                       (an effect)
  decline[:CODE]       DECLINED with decline_code CODE (default card_declined) (an effect)
  unavailable:N        the first N calls with the key fail as Unavailable,
                       then as approve (N in 1..1000)                          (no effect until then)
  unavailable...       any other token starting with "unavailable": every call
                       fails as Unavailable (a gateway outage)                 (no effect)
Tokens are secrets: this module never logs them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import threading
from typing import Callable, Dict, Optional, Tuple

# THE IDEMPOTENCY RULE: keys are 1..64 ASCII characters of [A-Za-z0-9_-].
_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DECLINE_CODE_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")
_MAX_SCRIPTED_UNAVAILABLE = 1000

APPROVED = "APPROVED"
DECLINED = "DECLINED"


class InvalidRequest(Exception):
    """The request can never succeed as sent (gRPC INVALID_ARGUMENT: payorch marks the job dead)."""


class Unavailable(Exception):
    """Transient, and nothing happened (gRPC UNAVAILABLE: payorch retries later, same key)."""


class TooManyKeys(Exception):
    """The key store is full; nothing happened (gRPC RESOURCE_EXHAUSTED: retried later)."""


@dataclasses.dataclass(frozen=True)
class Money:
    """Integer minor units and an ISO-4217 code: money is never floating point."""

    amount_minor: int
    currency: str


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The result of the one effect made for a key; every later call with the key answers it."""

    rpc: str  # the method of the first call: Authorize, Capture or Terminate
    status: str  # APPROVED or DECLINED
    gateway_reference: str
    decline_code: str = ""
    message: str = ""
    amount: Optional[Money] = None


def validate_key(key: str) -> None:
    if not _KEY_PATTERN.fullmatch(key):
        raise InvalidRequest("idempotency_key must be 1..64 characters of [A-Za-z0-9_-]")


def validate_amount(amount: Optional[Money]) -> None:
    if amount is None:
        return
    if amount.amount_minor <= 0:
        raise InvalidRequest("amount.amount_minor must be positive")
    if not _CURRENCY_PATTERN.fullmatch(amount.currency):
        raise InvalidRequest("amount.currency must be an upper-case ISO-4217 code")


class KeyStore:
    """The durable record of keys: in memory, optionally backed by an append-only file.

    With `state_file`, every outcome is appended as one JSON line and fsync'd before the call is
    answered, and the file is reloaded at start, so a restarted adapter still honours every key
    it answered. A torn last line (a crash during the write) is skipped: that call was never
    answered, so payorch retries it with the same key. Without a file, a restart forgets keys:
    fine for an example, never for a real adapter.
    """

    def __init__(self, state_file: Optional[str]):
        self._outcomes: Dict[str, Outcome] = {}
        self._file = None
        self._file_lock = threading.Lock()  # one writer at a time: lines never interleave
        if state_file:
            self._load(state_file)
            self._file = open(state_file, "a", encoding="utf-8")

    def __len__(self) -> int:
        return len(self._outcomes)

    def find(self, key: str) -> Optional[Outcome]:
        return self._outcomes.get(key)

    def record(self, key: str, outcome: Outcome) -> None:
        """Makes `outcome` durable for `key`; call it before answering the request."""
        if self._file is not None:
            line = {"key": key, **dataclasses.asdict(outcome)}
            with self._file_lock:
                self._file.write(json.dumps(line, separators=(",", ":")) + "\n")
                self._file.flush()
                os.fsync(self._file.fileno())
        self._outcomes[key] = outcome

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _load(self, path: str) -> None:
        if not os.path.exists(path):
            return
        # Cut a torn last line off first: the next record must start on a line of its own.
        with open(path, "rb+") as raw:
            data = raw.read()
            complete = data.rfind(b"\n") + 1
            if complete < len(data):
                raw.truncate(complete)
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                try:
                    fields = json.loads(line)
                    amount = fields.pop("amount")
                    key = fields.pop("key")
                    outcome = Outcome(**fields, amount=Money(**amount) if amount else None)
                except (ValueError, TypeError, KeyError):
                    continue  # unreadable: a record we cannot honour was never answered
                self._outcomes.setdefault(key, outcome)  # the first effect wins


class _KeyState:
    """Per-key bookkeeping that need not be durable."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls = 0  # calls with this key since start, for `unavailable:N`


class ExampleGateway:
    """Decides and records payment steps; thread-safe (the gRPC server calls it from a pool)."""

    def __init__(
        self,
        store: KeyStore,
        max_keys: int,
        on_effect: Callable[[str, Outcome], None] = lambda key, outcome: None,
        new_reference: Callable[[], str] = lambda: "pyex_" + secrets.token_hex(10),
    ):
        self._store = store
        self._max_keys = max_keys  # memory is bounded: a full store refuses new keys
        self._on_effect = on_effect
        # Randomness is injected: tests can make references predictable.
        self._new_reference = new_reference
        self._states: Dict[str, _KeyState] = {}
        self._states_lock = threading.Lock()  # guards _states only, held for microseconds

    def pay(
        self, rpc: str, key: str, token: str, amount: Optional[Money]
    ) -> Tuple[Outcome, bool]:
        """Performs `rpc` for `key` at most once. Returns (outcome, replayed): replayed is True
        when the outcome is the recorded result of an earlier call with the key."""
        validate_key(key)
        validate_amount(amount)
        state = self._state(key)
        # The per-key lock is what makes 20 concurrent first calls with one key cause one effect.
        # Different keys never wait for each other.
        with state.lock:
            state.calls += 1
            recorded = self._store.find(key)
            if recorded is not None:
                return recorded, True
            outcome = self._perform_effect(rpc, token, amount, state.calls)
            self._store.record(key, outcome)  # durable before we answer
            self._on_effect(key, outcome)
            return outcome, False

    def status(self, key: str) -> Optional[Outcome]:
        """The recorded outcome for `key`, or None if no call with it caused an effect. Never
        causes an effect. Waits for a call with the key that is in progress, so that it never
        answers "not found" for an effect that is about to be recorded."""
        validate_key(key)
        with self._states_lock:
            state = self._states.get(key)
        if state is None:  # no call with the key since start: only a reloaded record can exist
            return self._store.find(key)
        with state.lock:
            return self._store.find(key)

    def _state(self, key: str) -> _KeyState:
        with self._states_lock:
            state = self._states.get(key)
            if state is None:
                if len(self._states) >= self._max_keys:
                    raise TooManyKeys(f"the example keeps at most {self._max_keys} keys")
                state = self._states[key] = _KeyState()
            return state

    def _perform_effect(
        self, rpc: str, token: str, amount: Optional[Money], calls: int
    ) -> Outcome:
        """The "gateway". A real adapter calls its PSP here, passing the idempotency key on when
        the PSP supports one. Raising Unavailable means: nothing happened, try again later."""
        if token.startswith("unavailable"):
            _, _, count = token.partition(":")
            failures = int(count) if count.isascii() and count.isdigit() and len(count) <= 4 else 0
            if not 1 <= failures <= _MAX_SCRIPTED_UNAVAILABLE:
                raise Unavailable("the example gateway is unavailable")
            if calls <= failures:
                raise Unavailable(f"the example gateway is unavailable (call {calls} of {failures})")
        reference = self._new_reference()
        if token.startswith("decline"):
            _, _, code = token.partition(":")
            if not _DECLINE_CODE_PATTERN.fullmatch(code):
                code = "card_declined"
            return Outcome(rpc, DECLINED, reference, decline_code=code,
                           message="declined by the example gateway", amount=amount)
        return Outcome(rpc, APPROVED, reference, message="approved by the example gateway",
                       amount=amount)
