//! pico-testkit: the differential-testing toolbox for picorun.
//!
//! picorun's promise is "behaves exactly like running the program natively",
//! so nearly every test runs one binary twice — natively and under picorun —
//! and compares stdout, stderr and exit status. This crate builds the C
//! fixtures those tests run ([`fixture`]), runs them with a fixed environment
//! and a timeout ([`run_native`], [`run_picorun`]), and explains mismatches
//! readably ([`assert_same`], [`diff`]).
//!
//! It is std-only and never skips: a missing compiler or tool is a panic that
//! names the Debian package to install.

mod compare;
mod fixture;
mod run;

pub use compare::{assert_same, diff, first_difference};
pub use fixture::{fixture, fixtures_dir, Variant};
pub use run::{command, run, run_native, run_picorun, Outcome, RunError, TIMEOUT};
