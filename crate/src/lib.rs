//! traqq's core: turns JSON analytics events into Redis commands.
//!
//! The same code runs natively (for `cargo test`) and as WebAssembly
//! behind the TypeScript layer, where [`wasm::WasmEngine`] is the handle.
//! The behaviour is fixed by the product spec; `docs/semantics.md` in the
//! repository records the decisions where the spec is silent.

pub mod config;
pub mod engine;
pub mod event;
pub mod hll;
pub mod sanitize;
pub mod time;
pub mod wasm;

pub use config::{Config, ConfigError};
pub use engine::{BatchError, Engine};
pub use sanitize::{format_number, sanitize};
