//! The WebAssembly face of the engine: one handle per config, one call per
//! batch. Errors cross as real JS `Error`s with lower-case messages.

use std::sync::Mutex;

use wasm_bindgen::prelude::*;

use crate::{Config, Engine};

/// The message of the last panic, kept for the TypeScript layer: with
/// `panic = "abort"` a panic ends in a wasm trap, which carries no text.
static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

fn remember_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            if let Ok(mut last) = LAST_PANIC.lock() {
                *last = info.to_string();
            }
        }));
    });
}

/// Takes the message of the panic that trapped the module, if any.
#[wasm_bindgen(js_name = takePanicMessage)]
pub fn take_panic_message() -> String {
    LAST_PANIC
        .lock()
        .map(|mut m| std::mem::take(&mut *m))
        .unwrap_or_default()
}

/// An engine for one config, fed NDJSON batches.
#[wasm_bindgen(js_name = Engine)]
pub struct WasmEngine {
    inner: Engine,
}

#[wasm_bindgen(js_class = Engine)]
impl WasmEngine {
    /// Builds an engine from a JSON config; throws an `Error` naming the
    /// offending field.
    #[wasm_bindgen(constructor)]
    pub fn new(config_json: &str) -> Result<WasmEngine, JsError> {
        remember_panics();
        let config = Config::from_json(config_json).map_err(|e| JsError::new(&e.0))?;
        let inner = Engine::new(config).map_err(|e| JsError::new(&e.0))?;
        Ok(WasmEngine { inner })
    }

    /// Processes NDJSON text as one batch and returns the raw batch.
    #[wasm_bindgen(js_name = processLines)]
    pub fn process_lines(&mut self, input: &str, now_ms: f64) -> Result<String, JsError> {
        self.inner
            .process_lines(input, now_ms)
            .map_err(|e| JsError::new(&e.0))
    }
}

/// Adds elements, joined by U+001F, to HyperLogLog registers (one byte
/// each, `hllRegisters` of them); returns how many changed a register.
#[wasm_bindgen(js_name = hllAdd)]
pub fn hll_add(registers: &mut [u8], elements: &str) -> u32 {
    elements
        .split('\u{1f}')
        .filter(|e| crate::hll::add(registers, e.as_bytes()))
        .count() as u32
}

/// The unique count of HyperLogLog registers, as Redis's `PFCOUNT` gives it.
#[wasm_bindgen(js_name = hllCount)]
pub fn hll_count(registers: &[u8]) -> f64 {
    crate::hll::count(registers) as f64
}

/// Merges the registers of `from` into `into` (a union).
#[wasm_bindgen(js_name = hllMerge)]
pub fn hll_merge(into: &mut [u8], from: &[u8]) {
    crate::hll::merge(into, from)
}

/// How many registers an HyperLogLog has (16384, as in Redis).
#[wasm_bindgen(js_name = hllRegisters)]
pub fn hll_registers() -> u32 {
    crate::hll::REGISTERS as u32
}
