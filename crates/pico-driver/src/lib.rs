//! pico-driver (placeholder)
