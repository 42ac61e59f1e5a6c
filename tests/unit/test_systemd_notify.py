"""The watchdog's two decisions: how often to ping, and whether the tick job is alive enough to."""

from bot.systemd_notify import STALE_TICK_JOB_S, ServiceNotifier, alive, watchdog_every_s


def test_ping_every_half_watchdog_interval_for_this_pid_only() -> None:
    assert watchdog_every_s({"WATCHDOG_USEC": "30000000"}, pid=7) == 15.0
    assert watchdog_every_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"}, pid=7) == 15.0
    assert watchdog_every_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "8"}, pid=7) is None  # a child's
    assert watchdog_every_s({}, pid=7) is None
    assert watchdog_every_s({"WATCHDOG_USEC": "0"}, pid=7) is None
    assert watchdog_every_s({"WATCHDOG_USEC": "soon"}, pid=7) is None


def test_alive_while_jobs_finish_or_the_running_one_is_not_stuck() -> None:
    assert alive(now_s=1000, last_done_s=990, running_since_s=None)
    assert not alive(now_s=1000, last_done_s=1000 - STALE_TICK_JOB_S - 1, running_since_s=None)
    assert alive(now_s=1000, last_done_s=0, running_since_s=950)  # a slow job (an exchange backing off)
    assert not alive(now_s=1000, last_done_s=999, running_since_s=1000 - STALE_TICK_JOB_S)  # a call that hangs


def test_without_notify_socket_the_notifier_is_off() -> None:
    off = ServiceNotifier({"WATCHDOG_USEC": "1000000"}, pid=1)
    assert not off.enabled and off.watchdog_every_s is None
    off.ready("x")  # no socket: nothing happens, nothing raises
    on = ServiceNotifier({"NOTIFY_SOCKET": "/nonexistent/socket", "WATCHDOG_USEC": "1000000"}, pid=1)
    assert on.enabled and on.watchdog_every_s == 0.5
    on.watchdog()  # a socket that is gone: sdnotify stays quiet
