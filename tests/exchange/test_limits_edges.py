"""Rate limiter behaviour at the edges that mutation testing found unpinned: the error's
``retry_after_s``, a ban's countdown, the defaults for a 418/429 without ``Retry-After``, a
``Retry-After: 0``, headers among other headers, limits named by their own window, budgets
released when a wait is re-planned, and what is logged."""

from __future__ import annotations

import logging

import pytest

from binance_spot_mcp.exchange.limits import IpBanned, RateLimited, RateLimiter, host_key
from tests.exchange.test_limits import BASE, MINUTE_100, limiter_at

pytestmark = pytest.mark.anyio

START = 60.0 * 1000  # a minute boundary: 1970-01-01T16:40:00+00:00


# ------------------------------------------------------------------ what a refusal tells the caller
async def test_a_refusal_reports_the_wait_in_seconds_rounded_to_milliseconds() -> None:
    limiter, _ = limiter_at(START + 20.1234)
    await limiter.acquire(BASE, 95)
    with pytest.raises(RateLimited) as caught:
        await limiter.acquire(BASE, 1)
    out = caught.value.to_dict()
    assert out["retry_at"] == "1970-01-01T16:41:01+00:00"
    assert out["retry_after_s"] == 40.877  # 60061 - 60020.1234 = 40.8766
    assert caught.value.retry_after_s == pytest.approx(40.8766)


def test_a_retry_time_already_past_means_retry_now() -> None:
    exc = RateLimited("busy.", retry_at=START - 5, now=START)
    assert exc.retry_after_s == 0.0
    assert exc.to_dict()["retry_after_s"] == 0.0
    assert "(in 0.0 s)" in exc.message


async def test_a_request_that_can_never_fit_has_no_retry_time() -> None:
    limiter, _ = limiter_at(START + 20)
    with pytest.raises(RateLimited) as caught:
        await limiter.acquire(BASE, 101)
    out = caught.value.to_dict()
    assert "retry_at" not in out and "retry_after_s" not in out
    assert caught.value.retry_after_s is None


async def test_the_refusal_names_every_limit_that_is_full() -> None:
    limiter, _ = limiter_at(
        START + 20,
        [*MINUTE_100, {"rateLimitType": "RAW_REQUESTS", "interval": "SECOND", "intervalNum": 10, "limit": 3}],
        max_wait_s=0,
    )
    await limiter.acquire(BASE, 50)
    await limiter.acquire(BASE, 45)  # 95 of 100 (the budget); 2 of 3 requests (the budget)
    with pytest.raises(RateLimited) as caught:
        await limiter.acquire(BASE, 1)
    assert caught.value.message.startswith(
        "sending this now would cross the REQUEST_WEIGHT limit of 100 per minute and the RAW_REQUESTS limit "
        "of 3 per 10 seconds of https://api.binance.com; nothing was sent. Retry at "
    )


@pytest.mark.parametrize(
    ("interval", "num", "text"),
    [("DAY", 1, "per day"), ("HOUR", 1, "per hour"), ("HOUR", 2, "per 2 hours"), ("MINUTE", 5, "per 5 minutes"),
     ("SECOND", 1, "per second"), ("SECOND", 10, "per 10 seconds")],
)
async def test_a_limit_is_named_by_its_own_window(interval: str, num: int, text: str) -> None:
    limiter, _ = limiter_at(START + 0.5, [{"rateLimitType": "ORDERS", "interval": interval, "intervalNum": num,
                                           "limit": 1}], max_wait_s=0)
    with pytest.raises(RateLimited) as caught:
        await limiter.acquire(BASE, 1, orders=2)  # more than the limit: can never be sent
    assert f"the ORDERS limit of 1 {text} of https://api.binance.com" in caught.value.message


# ------------------------------------------------------------------ 429 and 418
async def test_a_ban_message_counts_down_the_seconds_left() -> None:
    limiter, vt = limiter_at(START)
    limiter.observe(BASE, 418, {"Retry-After": "120"})
    with pytest.raises(IpBanned) as caught:
        await limiter.acquire(BASE, 1)
    assert caught.value.message == (
        "https://api.binance.com has banned this IP: banned until 1970-01-01T16:42:00+00:00 (120 s from now). "
        "Nothing was sent."
    )
    vt.now += 119.75
    with pytest.raises(IpBanned, match=r"\(0 s from now\)"):
        await limiter.acquire(BASE, 1)


async def test_a_418_without_retry_after_bans_for_the_shortest_documented_ban() -> None:
    limiter, vt = limiter_at(START)
    limiter.observe(BASE, 418, {})
    with pytest.raises(IpBanned) as caught:
        await limiter.acquire(BASE, 1)
    assert caught.value.banned_until == START + 120  # rest-api.md: bans last from 2 minutes to 3 days
    vt.now += 120
    await limiter.acquire(BASE, 1)


async def test_a_429_without_retry_after_holds_the_host_for_a_minute() -> None:
    limiter, _ = limiter_at(START)
    limiter.observe(BASE, 429, {"Content-Type": "application/json"})
    with pytest.raises(RateLimited, match="answered 429") as caught:
        await limiter.acquire(BASE, 1)
    assert caught.value.retry_at == START + 60


async def test_a_shorter_later_ban_or_hold_never_shortens_the_first() -> None:
    limiter, _ = limiter_at(START)
    limiter.observe(BASE, 418, {"Retry-After": "600"})
    limiter.observe(BASE, 418, {"Retry-After": "5"})
    with pytest.raises(IpBanned) as caught:
        await limiter.acquire(BASE, 1)
    assert caught.value.banned_until == START + 600
    other = "https://testnet.binance.vision"
    limiter.observe(other, 429, {"Retry-After": "30"})
    limiter.observe(other, 429, {"Retry-After": "2"})
    with pytest.raises(RateLimited) as held:
        await limiter.acquire(other, 1)
    assert held.value.retry_at == START + 30


async def test_retry_after_zero_lets_the_next_request_go_at_once() -> None:
    limiter, vt = limiter_at(START + 20)
    limiter.observe(BASE, 429, {"Retry-After": "0"})
    await vt.run(lambda: limiter.acquire(BASE, 1))
    assert vt.sleeps == []


async def test_retry_after_zero_with_a_full_window_is_refused_for_the_window_not_the_429() -> None:
    limiter, _ = limiter_at(START + 20)
    await limiter.acquire(BASE, 95)
    limiter.observe(BASE, 429, {"Retry-After": "0"})
    with pytest.raises(RateLimited) as caught:
        await limiter.acquire(BASE, 1)
    assert caught.value.retry_at == START + 61  # the next minute (plus the skew allowance), not now + 60
    assert "would cross the REQUEST_WEIGHT limit of 100 per minute" in caught.value.message
    assert "answered 429" not in caught.value.message


async def test_retry_after_fractions_are_honoured() -> None:
    limiter, vt = limiter_at(START + 20)
    limiter.observe(BASE, 429, {"Retry-After": "0.5"})
    await vt.run(lambda: limiter.acquire(BASE, 1))
    assert vt.sleeps == [pytest.approx(0.5)]


def test_bans_and_holds_are_logged_with_the_host_and_the_end(caplog: pytest.LogCaptureFixture) -> None:
    limiter, _ = limiter_at(START)
    with caplog.at_level(logging.WARNING, logger="binance_spot_mcp.exchange.limits"):
        limiter.observe(BASE, 418, {"Retry-After": "120"})
        limiter.observe(BASE, 429, {"Retry-After": "30"})
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "https://api.binance.com banned this IP until 1970-01-01T16:42:00+00:00",
        "https://api.binance.com answered 429; holding requests until 1970-01-01T16:40:30+00:00",
    ]


# ------------------------------------------------------------------ used-weight / order-count headers
async def test_count_headers_are_read_among_other_headers() -> None:
    limiter, _ = limiter_at(START + 35, None)  # away from a 10 s boundary, where a count is ambiguous
    limiter.observe(BASE, 200, {
        "Content-Type": "application/json",
        "X-MBX-USED-WEIGHT-1M": "80",
        "X-MBX-ORDER-COUNT-10S": "junk",
        "X-MBX-ORDER-COUNT-1D": "7",
    })
    assert limiter.used(BASE) == 80
    assert limiter.used(BASE, "ORDERS", 86400) == 7
    assert limiter.used(BASE, "ORDERS", 10) == 0  # the daily count is not the 10-second count


async def test_a_server_count_of_one_is_adopted() -> None:
    limiter, _ = limiter_at(START + 30)
    limiter.observe(BASE, 200, {"X-MBX-USED-WEIGHT-1M": "1"})
    assert limiter.used(BASE) == 1


def test_a_limit_that_is_not_tracked_has_used_nothing() -> None:
    limiter, _ = limiter_at(START + 30)
    assert limiter.used(BASE, "ORDERS", 60) == 0


# ------------------------------------------------------------------ re-planning releases the old reservation
async def test_a_429_during_a_wait_releases_the_reservation_and_books_it_once() -> None:
    limiter, vt = limiter_at(START + 55)
    await limiter.acquire(BASE, 95)  # full until the next minute

    async def waiter() -> None:
        await limiter.acquire(BASE, 10)  # planned for START + 61

    async def holder() -> None:
        await vt.sleep(4)  # START + 59: someone else on this IP got a 429
        limiter.observe(BASE, 429, {"Retry-After": "3"})

    await vt.run(waiter, holder)
    assert vt.clock() == pytest.approx(START + 62)  # woke at +61, still held: re-planned for +62
    assert limiter.used(BASE) == 10  # the reservation for +61 was given back, not counted twice
    await limiter.acquire(BASE, 85)  # so the rest of the budget is still there
    with pytest.raises(RateLimited):
        await limiter.acquire(BASE, 1)


# ------------------------------------------------------------------ more edges
async def test_a_request_heavier_than_the_limit_says_how_to_fix_it() -> None:
    limiter, _ = limiter_at(START + 20)
    with pytest.raises(RateLimited) as caught:
        await limiter.acquire(BASE, 101)
    assert caught.value.message == (
        "this request needs 101 against the REQUEST_WEIGHT limit of 100 per minute of https://api.binance.com, "
        "so it can never be sent; make it lighter (fewer symbols, a smaller limit)."
    )
    assert caught.value.to_dict()["hint"] == "Nothing was sent. Narrow the request."


async def test_negative_costs_are_refused_with_a_reason() -> None:
    limiter, _ = limiter_at(START + 20)
    with pytest.raises(ValueError, match="^weight and orders must not be negative$"):
        await limiter.acquire(BASE, -1)


def test_headroom_may_be_zero_but_not_negative() -> None:
    limiter, _ = limiter_at(START, headroom=0.0)
    assert limiter.limits(BASE) == [{"rateLimitType": "REQUEST_WEIGHT", "intervalSeconds": 60, "limit": 100,
                                     "budget": 100}]
    with pytest.raises(ValueError, match=r"^headroom must be in \[0, 1\)$"):
        limiter_at(START, headroom=-0.01)


async def test_a_read_goes_even_when_the_server_counts_the_order_limit_as_full() -> None:
    limiter, vt = limiter_at(
        START + 3,
        [*MINUTE_100, {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 20}],
        max_wait_s=5,
    )
    limiter.observe(BASE, 200, {"X-MBX-ORDER-COUNT-10S": "20"})  # above our budget of 19
    await vt.run(lambda: limiter.acquire(BASE, 1))  # a read costs no order
    assert vt.sleeps == []
    with pytest.raises(RateLimited, match="ORDERS limit of 20 per 10 seconds"):
        await limiter.acquire(BASE, 1, orders=1)


async def test_the_last_window_stays_counted_while_a_request_may_still_land_in_it() -> None:
    limiter, vt = limiter_at(START + 30)
    await limiter.acquire(BASE, 95)  # the minute START .. START + 60 is full
    vt.now = START + 60.5  # a new minute, but within the 1 s skew allowance of the old one
    sent: list[float] = []

    async def call() -> None:
        await limiter.acquire(BASE, 1)
        sent.append(vt.clock())

    await vt.run(call, call)
    assert sent == [START + 61, START + 61]  # neither may go while it could still count in the full minute


def test_rate_limit_entries_that_cannot_be_used_are_skipped_not_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    limiter, _ = limiter_at(START, None)
    good = {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 50}
    with caplog.at_level(logging.WARNING, logger="binance_spot_mcp.exchange.limits"):
        limiter.configure(BASE, [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE"},  # no intervalNum, no limit
            {"rateLimitType": "SOMETHING_NEW", "interval": "MINUTE", "intervalNum": 1, "limit": 1},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 0},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 0, "limit": 10},
            good,
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 1, "limit": 1},
        ])
        limiter.configure("https://testnet.binance.vision/", [])
    assert limiter.limits(BASE) == [
        {"rateLimitType": "REQUEST_WEIGHT", "intervalSeconds": 60, "limit": 50, "budget": 47},
        {"rateLimitType": "ORDERS", "intervalSeconds": 1, "limit": 1, "budget": 0},
    ]
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == ("ignoring a rate limit entry that cannot be read: "
                           "{'rateLimitType': 'REQUEST_WEIGHT', 'interval': 'MINUTE'}")
    assert messages[1] == ("ignoring an unknown rate limit entry: "
                           "{'rateLimitType': 'SOMETHING_NEW', 'interval': 'MINUTE', 'intervalNum': 1, 'limit': 1}")
    assert len(messages) == 5
    assert messages[-1] == ("no usable rateLimits for https://testnet.binance.vision; "
                            "keeping the documented defaults")


async def test_a_late_wake_up_is_logged_as_a_re_plan_and_an_on_time_one_is_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [START + 55]

    async def oversleep(seconds: float) -> None:
        now[0] += seconds + 64

    async def on_time(seconds: float) -> None:
        now[0] += seconds

    for sleep, logged in ((on_time, False), (oversleep, True)):
        caplog.clear()
        now[0] = START + 55 + (120 if logged else 0)
        limiter = RateLimiter(clock=lambda: now[0], sleep=sleep)
        limiter.configure(BASE, MINUTE_100)
        await limiter.acquire(BASE, 95)
        with caplog.at_level(logging.DEBUG, logger="binance_spot_mcp.exchange.limits"):
            await limiter.acquire(BASE, 10)
        replans = [r.getMessage() for r in caplog.records if "re-planning" in r.getMessage()]
        assert replans == (["re-planning a reservation for https://api.binance.com after the wait"] if logged else [])


def test_host_keys_without_a_scheme_stay_apart() -> None:
    assert host_key(" localhost:8080/ ") == "localhost:8080"
    assert host_key("localhost:9090") == "localhost:9090"
    assert host_key("SANDBOX/") == "sandbox"
    assert host_key("api.Binance.com/") == "api.binance.com"
