"""Poll windows: what the rate-limit headers of get_result report."""

from __future__ import annotations

from mockserver.state.poll_windows import KEPT_WINDOWS, POLL_LIMIT, PollAllowance, PollWindows


def test_the_first_poll_opens_a_window() -> None:
    allowance = PollWindows().poll("a", 100.0)
    assert allowance == PollAllowance(limit=POLL_LIMIT, remaining=1199, retry_after=1, reset=101.0)
    assert allowance.headers() == {
        "Retry-After": "1",
        "X-Ratelimit-Limit": "1200",
        "X-Ratelimit-Remaining": "1199",
        "X-Ratelimit-Reset": "101.0",
    }


def test_retry_after_is_the_rest_of_the_window_rounded() -> None:
    windows = PollWindows()
    windows.poll("a", 100.0)
    assert windows.poll("a", 100.49).retry_after == 1
    late = windows.poll("a", 100.51)
    assert (late.retry_after, late.reset) == (0, 100.51)


def test_the_limit_is_reported_not_enforced() -> None:
    windows = PollWindows(limit=2)
    assert [windows.poll("a", 0.0).remaining for _ in range(4)] == [1, 0, 0, 0]


def test_a_window_closes_after_its_time_or_when_the_clock_goes_back() -> None:
    windows = PollWindows(window_seconds=1.0)
    windows.poll("a", 10.0)
    assert windows.poll("a", 10.9).remaining == 1198
    assert windows.poll("a", 11.0).remaining == 1199
    assert windows.poll("a", 5.0).remaining == 1199


def test_clients_count_apart() -> None:
    windows = PollWindows()
    windows.poll("a", 0.0)
    assert windows.poll("b", 0.0).remaining == 1199


def test_closed_windows_are_forgotten_once_there_are_many_clients() -> None:
    windows = PollWindows()
    for client in range(KEPT_WINDOWS):
        windows.poll(str(client), 0.0)
    windows.poll("open", 0.5)
    assert len(windows) == KEPT_WINDOWS + 1
    windows.poll("late", 1.2)
    assert len(windows) == 2
