"""The WAL disk guard (specs/disk.md): pg_wal on a small filesystem of its
own (a tmpfs), a sustained WAL load, and what pg_walrus lets max_wal_size be.

The load is paced: 1 MB non-transactional logical messages at a fixed rate.
They are real WAL (they fill segments and force checkpoints like any other)
but cost the server almost no CPU, so the rate, and with it whether the disk
fills, does not depend on how busy the suite's two cores are. The negative
control proves that this load, on this filesystem, PANICs a server whose
max_wal_size is free to grow; the guarded run is the same load, the same
length, on the same filesystem.
"""

import itertools
import re
import subprocess
import threading
import time

import psycopg
import pytest

from conftest import BASELINE, RESIZED, log_time, max_wal_size_mb, wait_for

# Tier 2 (scripts/test.sh): real time is what these prove, on the release build.
pytestmark = pytest.mark.realtime

MB = 1024 * 1024
SEGMENT_MB = 16

LOAD_MB_PER_S = 10
# The load's length in the negative control (the bound on its PANIC) and in
# the guarded run.
LOAD_SECONDS = 90
# The guarded run must survive at least the WAL volume that fills the disk in
# the negative control (about 220 MB there), and then some. Volume, not time,
# is the claim: on a crowded machine (the whole suite shares two cores) the
# paced load can fall well below its nominal rate, so the run goes on until
# it has written this much, within LOAD_BOUND_SECONDS.
GUARDED_RUN_MB = int(LOAD_SECONDS * LOAD_MB_PER_S * 0.7)
LOAD_BOUND_SECONDS = 240
# pg_wal's filesystem in the negative control and the guarded run. At the
# default fraction its ceiling is 0.25 x 200 MB, 48 MB in whole segments:
# above the starting 32 MB, so the guarded run has a growth to cap.
SMALL_FS_MB = 200

# Early reaction on: the worker grows max_wal_size within seconds of the
# storm, as it would in production (conftest turns it off for the tests that
# script one burst). walrus.min_size at the starting size: a ceiling below
# its 1 GB default would add its own warning to every decision here.
DISK_TEST_SETTINGS = {
    "walrus.early_reaction": "on",
    "walrus.min_size": "'32MB'",
}
GUARD_OFF = {"walrus.max_wal_disk_fraction": "0"}
# The negative control and the guarded run: no rate limit, so the worker grows
# at every early reaction or cycle for as long as the load asks. With the
# default 300 s cooldown a first early decision taken on few forced
# checkpoints (a crowded machine) could leave the size too small to fill the
# disk for the rest of the run, and the control would prove nothing.
UNLIMITED = {"walrus.cooldown_sec": "0", "walrus.max_changes_per_hour": "1000"}

CAPPED_BY_DISK = (
    r"WARNING:  pg_walrus: computed max_wal_size of (\d+) MB exceeds the WAL disk ceiling, capping at (\d+) MB"
)
CLAMP = r"WARNING:  pg_walrus: max_wal_size of (\d+) MB exceeds the WAL disk ceiling of (\d+) MB; lowering it now"
RETAINED = (
    r'WARNING:  pg_walrus: replication slot "stuck_slot" retains (\d+) MB of WAL, '
    r"more than half of the WAL disk budget \((\d+) MB\)"
)
CRASHED = r"terminating any other active server processes|all server processes terminated; reinitializing"

EMIT_MB = "SELECT pg_logical_emit_message(false, 'pg_walrus_test', repeat('x', 1024 * 1024))"
STATUS = "SELECT walrus.status()->>%s::text"


class WalLoad:
    """Writes WAL at `mb_per_s` from its own connection until stopped, or
    until the server drops it (a PANIC). A stall is not made up with a burst
    afterwards: the backlog never exceeds two seconds' worth."""

    def __init__(self, cluster, mb_per_s: int = LOAD_MB_PER_S):
        self.cluster = cluster
        self.rate = mb_per_s
        self.written_mb = 0
        self.error: Exception | None = None
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="wal-load")

    def _run(self):
        try:
            with self.cluster.connect() as conn:
                credit, last = 0.0, time.monotonic()
                while not self.stop_event.is_set():
                    now = time.monotonic()
                    credit = min(credit + (now - last) * self.rate, 2.0 * self.rate)
                    last = now
                    if credit < 1:
                        self.stop_event.wait((1 - credit) / self.rate)
                        continue
                    conn.execute(EMIT_MB)
                    self.written_mb += 1
                    credit -= 1
        except psycopg.Error as exc:
            self.error = exc

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(60)
        assert not self.thread.is_alive(), "the WAL load did not stop"


def emit_wal(conn, megabytes: int):
    for _ in range(megabytes):
        conn.execute(EMIT_MB)


def started_with_extension(make_cluster, wal_fs_mb: int, **settings):
    """A started cluster with pg_wal on a tmpfs of `wal_fs_mb` MB, the
    extension created and the worker's baseline taken."""
    cluster = make_cluster({**DISK_TEST_SETTINGS, **settings}, wal_fs_mb=wal_fs_mb)
    cluster.sql("CREATE EXTENSION pg_walrus")
    cluster.wait_for_log(BASELINE, 60)
    return cluster


def status_field(cluster, key: str) -> str | None:
    return cluster.one(STATUS, (key,))


def status_mb(cluster, key: str) -> float | None:
    value = status_field(cluster, key)
    return None if value is None else float(value)


def floor_segments(mb: float) -> int:
    return int(mb // SEGMENT_MB) * SEGMENT_MB


def test_without_the_guard_the_load_fills_the_disk_and_panics(make_cluster):
    # The negative control: if this does not PANIC, the guarded run below
    # proves nothing.
    cluster = started_with_extension(make_cluster, SMALL_FS_MB, **UNLIMITED, **GUARD_OFF)
    fs_size = cluster.wal_fs_usage().size
    start = cluster.log_offset()
    began = time.monotonic()
    with cluster.sample_wal() as sampler, WalLoad(cluster) as load:
        try:
            wait_for(
                lambda: re.search(r"PANIC:  ", cluster.log()[start:]) or load.error,
                LOAD_BOUND_SECONDS,
                f"a PANIC within {LOAD_BOUND_SECONDS} s of a {LOAD_MB_PER_S} MB/s WAL load on a {SMALL_FS_MB} MB pg_wal: "
                "the load is not dangerous, and the guarded run proves nothing",
            )
        except AssertionError as timeout:
            walrus_lines = "\n".join(re.findall(r"^.*pg_walrus.*$", cluster.log()[start:], re.MULTILINE)[-30:])
            raise AssertionError(
                f"{timeout}\nwritten {load.written_mb} MB, max_wal_size {max_wal_size_mb(cluster)} MB, "
                f"pg_wal peak {sampler.peak_pg_wal / MB:.0f} MB\n{walrus_lines}"
            ) from None
        took = time.monotonic() - began
        # The load's connection goes with the crash: the log line may come
        # a moment after.
        panic = cluster.wait_for_log(r"PANIC:  [^\n]*", 30, after=start)
    print(
        f"PANIC {took:.0f} s into the load, after {load.written_mb} MB; "
        f"pg_wal peaked at {sampler.peak_pg_wal / MB:.0f} MB of {fs_size / MB:.0f} MB: {panic.group(0)}"
    )
    assert "No space left on device" in cluster.log()[start:], cluster.log()[-3000:]
    resized = re.compile(RESIZED).search(cluster.log(), start)
    assert resized and resized.start() < panic.start(), "the worker grew max_wal_size before the disk filled"
    # The postmaster treats the PANIC as any crash: it stops accepting
    # connections, kills every backend and reinitialises (crash recovery may
    # then fail for want of space, and it exits).
    cluster.wait_for_log(CRASHED, 30, after=panic.start())


def test_the_guard_caps_growth_below_what_the_disk_holds(make_cluster):
    # The same load, as long, on the same filesystem, with the default
    # fraction (0.25): max_wal_size stops at the disk ceiling and the server
    # lives.
    cluster = started_with_extension(make_cluster, SMALL_FS_MB, **UNLIMITED)
    fs_size = cluster.wal_fs_usage().size
    started_at = cluster.one("SELECT pg_postmaster_start_time()")
    worker = cluster.worker_pid()
    ceiling_before = wait_for(lambda: status_mb(cluster, "disk_ceiling_mb"), 30, "the first disk measurement")
    assert ceiling_before < SMALL_FS_MB * 0.25 + 1, ceiling_before
    start = cluster.log_offset()

    samples = []  # (max_wal_size MB, disk ceiling MB at that moment)
    sampling = threading.Event()

    def sample():
        with cluster.connect() as conn:
            while not sampling.is_set():
                samples.append(
                    conn.execute(
                        "SELECT setting::int, (walrus.status()->>'disk_ceiling_mb')::numeric "
                        "FROM pg_settings WHERE name = 'max_wal_size'"
                    ).fetchone()
                )
                sampling.wait(1)

    sampler_thread = threading.Thread(target=sample, daemon=True)
    with cluster.sample_wal() as sampler, WalLoad(cluster) as load:
        sampler_thread.start()
        began = time.monotonic()
        time.sleep(LOAD_SECONDS)
        wait_for(
            lambda: load.written_mb >= GUARDED_RUN_MB or load.error,
            LOAD_BOUND_SECONDS - (time.monotonic() - began),
            f"{GUARDED_RUN_MB} MB of WAL through the guarded server",
        )
        sampling.set()
        sampler_thread.join(30)
    assert load.error is None, f"the load lost its connection: {load.error}"
    assert load.written_mb >= GUARDED_RUN_MB, f"the load only wrote {load.written_mb} MB"

    log = cluster.log()
    assert "PANIC" not in log and "No space left on device" not in log, log[-3000:]
    assert not re.search(CRASHED, log), "no crash and reinitialisation"
    assert cluster.one("SELECT pg_postmaster_start_time()") == started_at
    assert cluster.worker_pid() == worker, "the worker was never restarted (a crash restarts it)"

    assert len(samples) >= LOAD_SECONDS // 3, f"only {len(samples)} samples"
    assert all(ceiling is not None for _, ceiling in samples), samples
    above = [(size, ceiling) for size, ceiling in samples if size > ceiling]
    assert not above, f"max_wal_size above the disk ceiling of the moment: {above}"
    assert sampler.peak_pg_wal < fs_size, f"pg_wal peaked at {sampler.peak_pg_wal} bytes of {fs_size}"
    print(
        f"max_wal_size peaked at {max(s for s, _ in samples)} MB, ceiling {ceiling_before} MB; pg_wal at "
        f"{sampler.peak_pg_wal / MB:.0f} MB of {fs_size / MB:.0f} MB after {load.written_mb} MB of WAL"
    )

    capped = cluster.wait_for_log(CAPPED_BY_DISK, 10, after=start)
    assert int(capped.group(1)) > int(capped.group(2)), capped.group(0)
    rows = wait_for(
        lambda: cluster.sql(
            "SELECT new_size_mb, reason, metadata FROM walrus.history WHERE action = 'capped' ORDER BY id"
        ),
        10,
        "the capped row",
    )
    new, reason, metadata = rows[0]
    assert "WAL disk ceiling" in reason, reason
    assert metadata.get("limited_by") == "disk", metadata
    assert new <= metadata["disk"]["ceiling_mb"], metadata


def test_a_ceiling_that_falls_below_max_wal_size_clamps_it_and_holds_growth(make_cluster):
    fraction = 0.5
    cluster = started_with_extension(
        make_cluster,
        400,
        **{
            "walrus.max_wal_disk_fraction": str(fraction),
            "walrus.cooldown_sec": "0",
            "walrus.max_changes_per_hour": "100",
        },
    )
    # A short load grows max_wal_size, up to the ceiling (0.5 x 400 MB).
    start = cluster.log_offset()
    with WalLoad(cluster):
        grown = cluster.wait_for_log(RESIZED, 90, after=start)
    size = int(grown.group(2))
    assert size > 32, grown.group(0)
    wait_for(lambda: max_wal_size_mb(cluster) == size, 10, f"max_wal_size {size} MB")
    ceiling = status_mb(cluster, "disk_ceiling_mb")
    assert ceiling is not None and size <= ceiling, (size, ceiling)

    # A ballast file takes so much of the filesystem that the ceiling falls
    # below max_wal_size, to a size whose ceiling-after-removal is 25 % above
    # it (the hysteresis' condition): f x (available + pg_wal - ballast) =
    # target + half a segment. pg_wal may hold a segment more or less by the
    # time the guard measures, so the clamp may land a segment above the
    # target: a segment of slack keeps 1.25 x the clamp under the ceiling the
    # removal brings back (without it, a clamp of 160 MB against a 192 MB
    # ceiling could never be released, and the test timed out).
    target = floor_segments(min(ceiling / 1.25 - 1.5 * SEGMENT_MB, size - SEGMENT_MB))
    assert target >= 2 * SEGMENT_MB, f"grew to {size} MB only, ceiling {ceiling} MB: no room for a clamp"
    usage = cluster.wal_fs_usage()
    budget = usage.available + cluster.pg_wal_bytes()
    ballast_bytes = budget - int((target + SEGMENT_MB / 2) / fraction * MB)
    assert ballast_bytes + 32 * MB <= usage.available, (
        f"a {ballast_bytes / MB:.0f} MB ballast would leave pg_wal {usage.available / MB - ballast_bytes / MB:.0f} MB"
    )
    ballast = cluster.wal_mount / "ballast"
    before = cluster.log_offset()
    subprocess.run(["fallocate", "-l", str(ballast_bytes), str(ballast)], check=True)

    # A check while fallocate is still allocating (seconds on a crowded
    # machine) sees part of the ballast and clamps part of the way; the next
    # check, the rest. Each clamp lowers the size the previous one set.
    def clamps():
        found = [(int(m.group(1)), int(m.group(2))) for m in re.finditer(CLAMP, cluster.log()[before:])]
        return found if found and found[-1][1] <= target + SEGMENT_MB else None

    steps = wait_for(clamps, 30, f"a clamp to about {target} MB")
    assert steps[0][0] == size, steps
    assert all(new < old for old, new in steps) and all(a[1] == b[0] for a, b in itertools.pairwise(steps)), steps
    clamped = steps[-1][1]
    assert abs(clamped - target) <= SEGMENT_MB, f"ceiling {clamped} MB, {target} MB expected from the ballast"
    wait_for(lambda: cluster.setting("max_wal_size") == f"{clamped}MB", 10, f"SHOW max_wal_size = {clamped}MB")
    rows = wait_for(
        lambda: (
            (
                r := cluster.sql(
                    "SELECT old_size_mb, new_size_mb, metadata->>'limited_by' FROM walrus.history "
                    "WHERE action = 'decrease' AND metadata->>'clamp' = 'true' ORDER BY id"
                )
            )
            and len(r) == len(steps)
            and r
        ),
        10,
        "the clamps' decrease rows",
    )
    assert rows == [(old, new, "disk") for old, new in steps], rows
    assert status_field(cluster, "disk_growth_held") == "true"

    # The space comes back, and the load with it. Growth is held until the
    # ceiling has been 25 % above the clamped size for 6 checks in a row and
    # 50 s (cycles and early reactions check between the 10 s checks). The
    # marker is logged before the removal: every roomy check comes after it.
    marker = cluster.log_offset()
    cluster.sql("DO $$BEGIN RAISE LOG 'pg_walrus test: removing the ballast'; END$$")
    removed = cluster.wait_for_log(r"pg_walrus test: removing the ballast", 10, after=marker)
    removed_at = time.monotonic()
    ballast.unlink()
    # status() reports the worker's last check: the next one (within 10 s)
    # sees the space back, with room for the hold's condition.
    seen = []
    try:
        freed = wait_for(
            lambda: (
                (c := status_mb(cluster, "disk_ceiling_mb")) is not None
                and not seen.append(c)
                and c >= 1.25 * clamped
                and c
            ),
            90,
            f"a disk check after the removal with the ceiling at least 1.25 x {clamped} MB",
        )
    except AssertionError as timeout:
        raise AssertionError(f"{timeout}; ceilings seen: {seen[-5:]}") from None

    def growth():
        for match in re.compile(RESIZED).finditer(cluster.log(), removed.end()):
            if int(match.group(2)) > int(match.group(1)):
                return match
        return None

    with WalLoad(cluster) as load:
        # Not before 50 s after the first roomy check, which comes at the
        # earliest right after the removal.
        while time.monotonic() - removed_at < 45:
            assert status_field(cluster, "disk_growth_held") == "true", "growth is held for the first 6 checks"
            assert max_wal_size_mb(cluster) == clamped
            time.sleep(1)
        regrown = wait_for(growth, 120, "growth once the hold is over")
        assert load.error is None, load.error
    after = (log_time(cluster, regrown) - log_time(cluster, removed)).total_seconds()
    # 49: the log's clock is not the worker's monotonic one.
    assert after >= 49, f"grew {after:.1f} s after the space came back: {regrown.group(0)}"
    assert int(regrown.group(1)) == clamped and int(regrown.group(2)) <= freed, regrown.group(0)
    assert "PANIC" not in cluster.log()


def test_a_stuck_slot_retaining_wal_is_named_and_lowers_the_ceiling(make_cluster):
    # Early reaction off: the disk is checked every 10 s whether or not the
    # worker looks at checkpoints between cycles.
    fs_mb = 256
    cluster = started_with_extension(
        make_cluster, fs_mb, wal_keep_size="0", max_slot_wal_keep_size="-1", **{"walrus.early_reaction": "off"}
    )
    retained_before = wait_for(
        lambda: (v := status_mb(cluster, "wal_retained_mb")) is not None and (v,), 30, "the first measurement"
    )[0]
    ceiling_before = status_mb(cluster, "disk_ceiling_mb")
    assert ceiling_before is not None
    start = cluster.log_offset()
    with cluster.connect() as conn:
        conn.execute("SELECT pg_create_physical_replication_slot('stuck_slot', true)")
        # 160 MB, a checkpoint after every segment's worth: without the slot
        # each checkpoint would let the segments before it go. More than half
        # of the 256 MB budget.
        for _ in range(10):
            emit_wal(conn, SEGMENT_MB)
            conn.execute("CHECKPOINT")
    warning = cluster.wait_for_log(RETAINED, 30, after=start)
    retains, budget = int(warning.group(1)), int(warning.group(2))
    assert 2 * retains > budget and retains >= 100, warning.group(0)
    assert budget <= fs_mb, warning.group(0)
    retained_after = status_mb(cluster, "wal_retained_mb")
    ceiling_after = status_mb(cluster, "disk_ceiling_mb")
    assert retained_after > retained_before + 100, (retained_before, retained_after)
    assert ceiling_after < ceiling_before, (ceiling_before, ceiling_after)
    # The fallen ceiling is a ceiling: anything above it was lowered.
    wait_for(lambda: max_wal_size_mb(cluster) <= ceiling_after, 20, f"max_wal_size at most {ceiling_after} MB")
    # One warning per episode: the next check (every 10 s), with the slot
    # still stuck, says nothing new.
    time.sleep(12)
    assert len(re.findall(RETAINED, cluster.log()[start:])) == 1
    assert "PANIC" not in cluster.log()
