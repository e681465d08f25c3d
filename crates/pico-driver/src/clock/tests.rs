use super::*;

const KHZ: u32 = 2_500_000; // 2.5 GHz: 0.4 ns per tick

/// A host whose NTP clocks run `ppm` faster than the TSC says.
fn host_at(tsc: u64, ppm: i64, realtime_step: i64) -> Sample {
    let ns = (tsc as f64) * 0.4;
    let ntp = ns * (1.0 + ppm as f64 / 1e6);
    Sample {
        tsc,
        ns: [
            ((1_700_000_000e9 + ntp) as u64).wrapping_add(realtime_step as u64),
            (5e9 + ntp) as u64,
            (6e9 + ntp) as u64,
            (4e9 + ns) as u64,
        ],
    }
}

fn tracker() -> Tracker {
    Tracker::new(KHZ, [1; VVAR_RES_IDS as usize])
}

#[test]
fn nominal_mult_is_ns_per_tick_shifted() {
    assert_eq!(nominal_mult(1_000_000), 1 << 32, "1 GHz: 1 ns per tick");
    assert_eq!(nominal_mult(KHZ), (0.4 * (1u64 << 32) as f64) as u64);
}

#[test]
fn first_update_copies_the_host() {
    let mut t = tracker();
    let s = host_at(1_000, 0, 0);
    t.update(&s);
    assert!(t.data.ready);
    for i in 0..4 {
        assert_eq!(
            extrapolate(t.data.clocks[i], t.data.tsc_base, s.tsc),
            s.ns[i]
        );
    }
}

#[test]
fn a_slewed_host_is_tracked_within_microseconds_and_never_goes_back() {
    let mut t = tracker();
    let period = 25_000_000; // 10 ms of ticks
    let ppm = 300;
    let mut last = [0u64; 4];
    for k in 0..500u64 {
        let tsc = 1_000 + k * period;
        let s = host_at(tsc, ppm, 0);
        // What the guest computes just before the update, and just after.
        if k > 0 {
            for (i, last) in last.iter_mut().enumerate() {
                let before = extrapolate(t.data.clocks[i], t.data.tsc_base, tsc);
                assert!(before >= *last, "clock {i} went back before update {k}");
                *last = before;
            }
        }
        t.update(&s);
        for (i, last) in last.iter_mut().enumerate() {
            let after = extrapolate(t.data.clocks[i], t.data.tsc_base, tsc);
            assert!(after >= *last, "clock {i} went back at update {k}");
            *last = after;
            if k > 200 {
                let err = (after as i128 - s.ns[i] as i128).abs();
                assert!(err < 2_000, "clock {i} off by {err} ns at update {k}");
            }
        }
    }
}

#[test]
fn realtime_steps_both_ways_and_monotonic_does_not_jump() {
    let mut t = tracker();
    t.update(&host_at(1_000, 0, 0));
    let s = host_at(25_001_000, 0, -5_000_000_000);
    t.update(&s);
    let rt = extrapolate(t.data.clocks[clock::REALTIME], t.data.tsc_base, s.tsc);
    assert_eq!(
        rt,
        s.ns[clock::REALTIME],
        "settimeofday back 5 s is followed"
    );
    let mono = extrapolate(t.data.clocks[clock::MONOTONIC], t.data.tsc_base, s.tsc);
    assert!((mono as i128 - s.ns[clock::MONOTONIC] as i128).abs() < 10);
}

#[test]
fn a_tsc_behind_the_base_reads_as_the_base() {
    let c = ClockBase {
        base_ns: 100,
        mult: 1 << 32,
    };
    assert_eq!(extrapolate(c, 1_000, 999), 100);
    assert_eq!(extrapolate(c, 1_000, 1_010), 110);
}

#[test]
fn boottime_is_monotonic_plus_a_suspend_offset_never_behind_it() {
    let mut t = tracker();
    let period = 25_000_000; // 10 ms of ticks
                             // A host whose BOOTTIME sampled a little behind MONOTONIC (sampling
                             // error; no suspend), then suspended for 2 s after update 100.
    for k in 0..200u64 {
        let tsc = 1_000 + k * period;
        let mut s = host_at(tsc, 300, 0);
        let suspended: u64 = if k > 100 { 2_000_000_000 } else { 0 };
        s.ns[clock::BOOTTIME] = s.ns[clock::MONOTONIC] - 40 + suspended;
        t.update(&s);
        for probe in [tsc, tsc + period / 2, tsc + period - 1] {
            let at = |i: usize| extrapolate(t.data.clocks[i], t.data.tsc_base, probe);
            let (mono, boot) = (at(clock::MONOTONIC), at(clock::BOOTTIME));
            assert!(
                boot >= mono,
                "update {k}: BOOTTIME {boot} behind MONOTONIC {mono}"
            );
            let offset = boot - mono;
            assert!(
                offset <= suspended && suspended - offset <= 40,
                "update {k}: offset {offset}, suspended {suspended} (sampled 40 ns short)"
            );
        }
    }
}
