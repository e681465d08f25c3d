//! pico-loader (placeholder)
