//! Prints docs/syscalls.md from the syscall table.
fn main() {
    print!("{}", pico_driver::sys::table::markdown());
}
