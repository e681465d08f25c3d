//! pico-testkit (placeholder)
