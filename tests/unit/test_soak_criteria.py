"""The soak's criteria over its series (the load itself is `make soak`'s)."""

from bench.soak_criteria import Failures, Minute, Sample, judge

MB = 2**20


def minutes(*p99s: float, errors: int = 0) -> list[Minute]:
    return [Minute(60.0 * i, 500.0, p99, errors if i == len(p99s) - 1 else 0) for i, p99 in enumerate(p99s)]


def samples(*points: tuple[int, int]) -> list[Sample]:
    """One web process's (RSS in MB, fds) every 30 s from the start: the first two are the warm-up minute's."""
    return [Sample(30.0 * i, {"web worker 1": (rss * MB, fds)}) for i, (rss, fds) in enumerate(points)]


def verdicts(mins: list[Minute], smp: list[Sample], failures: Failures | None = None) -> dict[str, bool]:
    return {v.name: v.passed for v in judge(mins, smp, failures or Failures())}


def test_a_steady_run_passes_every_criterion():
    # The warm-up's growth (100 -> 150 MB, 300 -> 700 fds, p99 40 ms) is not held against the run.
    steady = samples((100, 300), (140, 600), (150, 700), (150, 690), (151, 705), (152, 710))
    assert verdicts(minutes(40.0, 10.0, 11.5, 12.0), steady) == {
        "RSS growth": True, "open fds flat": True, "p99 steady": True, "0 errors": True,
    }  # fmt: skip


def test_memory_that_grows_5_percent_after_the_warm_up_fails():
    growing = samples((100, 300), (150, 700), (150, 700), (155, 700), (158, 700))
    assert verdicts(minutes(10.0, 10.0, 10.0), growing)["RSS growth"] is False


def test_memory_that_moves_with_the_requests_in_flight_but_has_no_trend_passes():
    noisy = samples((100, 300), (150, 700), (150, 700), (162, 700), (141, 700), (158, 700), (145, 700), (150, 700))
    assert verdicts(minutes(10.0, 10.0, 10.0), noisy)["RSS growth"] is True


def test_descriptors_that_keep_growing_fail_and_a_pool_s_worth_coming_and_going_does_not():
    leak = samples((150, 300), (150, 700), (150, 700), (150, 720), (150, 740), (150, 760))
    pool = samples((150, 300), (150, 700), (150, 700), (150, 720), (150, 690), (150, 715))
    assert verdicts(minutes(10.0, 10.0), leak)["open fds flat"] is False
    assert verdicts(minutes(10.0, 10.0), pool)["open fds flat"] is True


def test_a_later_minute_more_than_20_percent_slower_than_the_first_measured_one_fails():
    steady = samples(*((150, 700) for _ in range(12)))
    assert verdicts(minutes(90.0, 10.0, 12.0, 12.1), steady)["p99 steady"] is False
    assert verdicts(minutes(90.0, 10.0, 12.0, 8.0), steady)["p99 steady"] is True


def test_any_error_fails_http_streams_reports_or_webhooks():
    steady = samples(*((150, 700) for _ in range(12)))
    assert verdicts(minutes(10.0, 10.0, errors=1), steady)["0 errors"] is False
    for failure in (Failures(streams_dropped=1), Failures(reports_not_succeeded=1), Failures(webhooks_not_delivered=1)):
        assert verdicts(minutes(10.0, 10.0), steady, failure)["0 errors"] is False


def test_a_process_gone_after_the_warm_up_fails_the_memory_criterion():
    gone = [*samples((150, 700), (150, 700), (150, 700)), Sample(90.0, {})]
    assert verdicts(minutes(10.0, 10.0), gone)["RSS growth"] is False


def test_a_longer_warm_up_leaves_its_minutes_out_of_every_trend():
    # Memory fills for two minutes, then holds: a one-minute warm-up sees growth, a two-minute one does not.
    filling = samples((100, 300), (120, 700), (140, 700), (160, 700), (175, 700), (176, 700), (176, 700), (176, 700))
    mins = minutes(40.0, 30.0, 10.0, 10.5)
    assert {v.name: v.passed for v in judge(mins, filling, Failures(), warmup_minutes=1)}["RSS growth"] is False
    assert {v.name: v.passed for v in judge(mins, filling, Failures(), warmup_minutes=2)} == {
        "RSS growth": True, "open fds flat": True, "p99 steady": True, "0 errors": True,
    }  # fmt: skip
