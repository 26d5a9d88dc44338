"""relay/limits.py: the token buckets behind the rate limits."""

from __future__ import annotations

from shieldmutual.relay.limits import Bucket, TimeBucket


def test_token_bucket():
    bucket = Bucket(rate=0.001, burst=2)
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    assert all(Bucket(rate=0, burst=1).take() for _ in range(100))


def test_time_bucket_runs_into_debt_and_stays_shut_until_it_refills():
    bucket = TimeBucket(rate=0.001, burst=1.0)
    assert bucket.open()
    bucket.charge(0.6)
    assert bucket.open()  # something left: one more query may start
    bucket.charge(3.0)  # that one ran long: into debt
    assert not bucket.open()
    off = TimeBucket(rate=0, burst=0.0)
    off.charge(100.0)
    assert off.open()
