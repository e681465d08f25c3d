//! pico-abi (placeholder)
