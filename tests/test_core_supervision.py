"""The restart schedule and the link state machine, without time passing (``core.supervision``)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mcp_central.core.supervision import Lifecycle, LinkState, RestartPolicy

POLICY = RestartPolicy(initial_delay=0.5, max_delay=4.0, multiplier=2.0, jitter=0.2, max_attempts=None)


def test_delays_grow_exponentially_up_to_the_cap() -> None:
    no_jitter = [POLICY.delay(attempt, 0.0) for attempt in range(1, 8)]
    assert no_jitter == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]


@given(
    attempt=st.integers(min_value=1, max_value=100_000),
    random=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    initial=st.floats(min_value=0.01, max_value=10.0),
    cap=st.floats(min_value=0.01, max_value=600.0),
    multiplier=st.floats(min_value=1.0, max_value=10.0),
    jitter=st.floats(min_value=0.0, max_value=1.0),
)
def test_jitter_only_shortens_and_the_cap_always_holds(
    attempt: int, random: float, initial: float, cap: float, multiplier: float, jitter: float
) -> None:
    policy = RestartPolicy(initial, cap, multiplier, jitter)
    delay = policy.delay(attempt, random)
    unjittered = policy.delay(attempt, 0.0)
    assert 0.0 <= delay <= unjittered <= cap
    assert delay >= unjittered * (1 - jitter) - 1e-9


def test_a_crash_restarts_after_the_initial_delay_and_counts_the_restart() -> None:
    life = Lifecycle(POLICY)
    life.attempting()
    assert life.state is LinkState.STARTING
    life.ready(now=0.0)
    life.lost("the process was killed by signal 9 (SIGKILL)", now=100.0)
    assert life.state is LinkState.RESTARTING and life.recovering
    assert life.next_delay(0.0) == 0.5
    life.attempting()
    assert life.state is LinkState.RESTARTING and life.restarts == 1
    life.ready(now=101.0)
    assert life.state is LinkState.READY and life.last_error is None and life.next_delay(0.0) is None


def test_failed_attempts_back_off_and_a_crash_loop_keeps_backing_off() -> None:
    life = Lifecycle(POLICY)
    life.attempting()
    life.ready(now=0.0)
    life.lost("gone", now=100.0)
    delays = []
    for _ in range(4):
        delays.append(life.next_delay(0.0))
        life.attempting()
        life.attempt_failed("connection refused")
        assert life.state is LinkState.RESTARTING and not life.recovering
    assert delays == [0.5, 1.0, 2.0, 4.0]
    life.attempting()
    life.ready(now=110.0)
    life.lost("gone again", now=110.5)  # up for half a second: still the same streak
    assert life.next_delay(0.0) == 4.0
    life.attempting()
    life.ready(now=120.0)
    life.lost("gone after a while", now=200.0)  # up for longer than max_delay: a fresh streak
    assert life.next_delay(0.0) == 0.5


def test_a_server_that_never_started_is_failed_and_retried_until_max_attempts() -> None:
    life = Lifecycle(RestartPolicy(initial_delay=1.0, max_delay=8.0, max_attempts=3, jitter=0.0))
    life.attempting()
    life.attempt_failed("cannot start '/nonexistent'")
    assert life.state is LinkState.FAILED and life.next_delay(0.0) == 1.0
    life.attempting()
    life.attempt_failed("cannot start '/nonexistent'")
    assert life.next_delay(0.0) == 2.0
    life.attempting()
    assert life.state is LinkState.FAILED  # a retry of a server that never started is not "starting"
    life.attempt_failed("cannot start '/nonexistent'")
    assert life.gave_up and life.state is LinkState.FAILED and life.next_delay(0.0) is None
    assert life.restarts == 2


def test_a_missed_deadline_degrades_until_the_upstream_answers_again() -> None:
    life = Lifecycle(POLICY)
    life.attempting()
    life.ready(now=0.0)
    life.deadline_missed()
    assert life.state is LinkState.DEGRADED and life.serving
    life.heard_from()
    assert life.state is LinkState.READY


def test_stopping_on_purpose_is_not_a_failure() -> None:
    life = Lifecycle(POLICY)
    life.attempting()
    life.ready(now=0.0)
    life.stopped()
    assert life.state is LinkState.STOPPED and life.next_delay(0.0) is None
    life.attempting()
    assert life.state is LinkState.STARTING and life.restarts == 0


def test_state_since_moves_only_when_the_state_changes() -> None:
    now = [10.0]
    life = Lifecycle(POLICY, clock=lambda: now[0])
    assert life.state_since == 10.0
    now[0] = 11.0
    life.attempting()
    assert life.state is LinkState.STARTING and life.state_since == 11.0
    now[0] = 12.0
    life.ready(now=12.0)
    now[0] = 15.0
    life.heard_from()  # still READY: time in state keeps counting from 12
    assert life.state_since == 12.0
    life.deadline_missed()
    assert life.state is LinkState.DEGRADED and life.state_since == 15.0
    now[0] = 20.0
    life.lost("the process was killed by signal 9 (SIGKILL)", now=20.0)
    assert life.state is LinkState.RESTARTING and life.state_since == 20.0
