//! pico-vm (placeholder)
