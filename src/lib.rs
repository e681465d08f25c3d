//! picorun
