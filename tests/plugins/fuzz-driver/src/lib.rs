//! A Proxy-Wasm module for fuzzing the host: its configuration is a program
//! of host calls with arbitrary arguments, run on request headers. No SDK:
//! the calls go straight to the `env` imports, with pointers and lengths
//! that may point anywhere, overlap, or run past the end of memory.
//!
//! Program: a sequence of calls, each one byte choosing the function, then
//! one encoded argument per parameter: a tag byte, then
//! - tag 0: a raw 32-bit value (4 bytes, little-endian);
//! - tag 1: a pointer into the program's own bytes (2-byte offset), so the
//!   fuzzer can name real header keys and property paths;
//! - tag 2: a small number (1 byte), for lengths and enum values;
//! - tag 3: a pointer to a slot of an output area (1 byte), for results.

#![allow(clippy::missing_safety_doc)]

use std::cell::RefCell;

#[link(wasm_import_module = "env")]
unsafe extern "C" {
    fn proxy_log(a: u32, b: u32, c: u32) -> u32;
    fn proxy_get_log_level(a: u32) -> u32;
    fn proxy_get_current_time_nanoseconds(a: u32) -> u32;
    fn proxy_set_tick_period_milliseconds(a: u32) -> u32;
    fn proxy_get_buffer_bytes(a: u32, b: u32, c: u32, d: u32, e: u32) -> u32;
    fn proxy_set_buffer_bytes(a: u32, b: u32, c: u32, d: u32, e: u32) -> u32;
    fn proxy_get_header_map_pairs(a: u32, b: u32, c: u32) -> u32;
    fn proxy_set_header_map_pairs(a: u32, b: u32, c: u32) -> u32;
    fn proxy_get_header_map_value(a: u32, b: u32, c: u32, d: u32, e: u32) -> u32;
    fn proxy_add_header_map_value(a: u32, b: u32, c: u32, d: u32, e: u32) -> u32;
    fn proxy_replace_header_map_value(a: u32, b: u32, c: u32, d: u32, e: u32) -> u32;
    fn proxy_remove_header_map_value(a: u32, b: u32, c: u32) -> u32;
    fn proxy_get_header_map_size(a: u32, b: u32) -> u32;
    fn proxy_get_property(a: u32, b: u32, c: u32, d: u32) -> u32;
    fn proxy_set_property(a: u32, b: u32, c: u32, d: u32) -> u32;
    fn proxy_send_local_response(a: u32, b: u32, c: u32, d: u32, e: u32, f: u32, g: u32, h: u32) -> u32;
    fn proxy_http_call(a: u32, b: u32, c: u32, d: u32, e: u32, f: u32, g: u32, h: u32, i: u32, j: u32) -> u32;
    fn proxy_define_metric(a: u32, b: u32, c: u32, d: u32) -> u32;
    fn proxy_increment_metric(a: u32, b: i64) -> u32;
    fn proxy_record_metric(a: u32, b: i64) -> u32;
    fn proxy_get_metric(a: u32, b: u32) -> u32;
    fn proxy_get_shared_data(a: u32, b: u32, c: u32, d: u32, e: u32) -> u32;
    fn proxy_set_shared_data(a: u32, b: u32, c: u32, d: u32, e: u32) -> u32;
    fn proxy_continue_stream(a: u32) -> u32;
    fn proxy_close_stream(a: u32) -> u32;
}

const PLUGIN_CONFIGURATION: u32 = 7;
const MAX_CALLS: usize = 256;

thread_local! {
    static PROGRAM: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static OUT: RefCell<[u32; 64]> = const { RefCell::new([0; 64]) };
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_abi_version_0_2_1() {}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_memory_allocate(size: usize) -> *mut u8 {
    let mut buf = Vec::<u8>::with_capacity(size.max(1));
    let ptr = buf.as_mut_ptr();
    std::mem::forget(buf);
    ptr
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_context_create(_context: u32, _parent: u32) {}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_configure(_root: u32, size: u32) -> u32 {
    let (mut ptr, mut len) = (0u32, 0u32);
    let status = unsafe {
        proxy_get_buffer_bytes(PLUGIN_CONFIGURATION, 0, size, &mut ptr as *mut u32 as u32, &mut len as *mut u32 as u32)
    };
    if status == 0 && ptr != 0 {
        let program = unsafe { std::slice::from_raw_parts(ptr as *const u8, len as usize) }.to_vec();
        PROGRAM.with(|p| *p.borrow_mut() = program);
    }
    1
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_request_headers(_context: u32, _headers: u32, _end: u32) -> u32 {
    let program = PROGRAM.with(|p| p.borrow().clone());
    run(&program);
    0
}

/// Reads the program's bytes in order.
struct Reader<'a> {
    program: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.program.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn arg(&mut self) -> Option<u32> {
        Some(match self.byte()? % 4 {
            0 => u32::from_le_bytes([self.byte()?, self.byte()?, self.byte()?, self.byte()?]),
            1 => {
                let offset = usize::from(u16::from_le_bytes([self.byte()?, self.byte()?]));
                self.program.as_ptr() as u32 + (offset % self.program.len().max(1)) as u32
            }
            2 => u32::from(self.byte()?),
            _ => {
                let slot = usize::from(self.byte()?) % 64;
                OUT.with(|o| o.borrow_mut().as_mut_ptr() as u32 + 4 * slot as u32)
            }
        })
    }

    fn args<const N: usize>(&mut self) -> Option<[u32; N]> {
        let mut out = [0; N];
        for a in &mut out {
            *a = self.arg()?;
        }
        Some(out)
    }
}

fn run(program: &[u8]) {
    let mut r = Reader { program, at: 0 };
    for _ in 0..MAX_CALLS {
        if call(&mut r).is_none() {
            return;
        }
    }
}

fn call(r: &mut Reader) -> Option<u32> {
    let op = r.byte()? % 25;
    // SAFETY: none. The arguments are whatever the fuzzer chose; surviving
    // them is the host's job, and a guest corrupted by them may trap.
    Some(unsafe {
        match op {
            0 => {
                let [a, b, c] = r.args()?;
                proxy_log(a, b, c)
            }
            1 => proxy_get_log_level(r.arg()?),
            2 => proxy_get_current_time_nanoseconds(r.arg()?),
            3 => proxy_set_tick_period_milliseconds(r.arg()?),
            4 => {
                let [a, b, c, d, e] = r.args()?;
                proxy_get_buffer_bytes(a, b, c, d, e)
            }
            5 => {
                let [a, b, c, d, e] = r.args()?;
                proxy_set_buffer_bytes(a, b, c, d, e)
            }
            6 => {
                let [a, b, c] = r.args()?;
                proxy_get_header_map_pairs(a, b, c)
            }
            7 => {
                let [a, b, c] = r.args()?;
                proxy_set_header_map_pairs(a, b, c)
            }
            8 => {
                let [a, b, c, d, e] = r.args()?;
                proxy_get_header_map_value(a, b, c, d, e)
            }
            9 => {
                let [a, b, c, d, e] = r.args()?;
                proxy_add_header_map_value(a, b, c, d, e)
            }
            10 => {
                let [a, b, c, d, e] = r.args()?;
                proxy_replace_header_map_value(a, b, c, d, e)
            }
            11 => {
                let [a, b, c] = r.args()?;
                proxy_remove_header_map_value(a, b, c)
            }
            12 => {
                let [a, b] = r.args()?;
                proxy_get_header_map_size(a, b)
            }
            13 => {
                let [a, b, c, d] = r.args()?;
                proxy_get_property(a, b, c, d)
            }
            14 => {
                let [a, b, c, d] = r.args()?;
                proxy_set_property(a, b, c, d)
            }
            15 => {
                let [a, b, c, d, e, f, g, h] = r.args()?;
                proxy_send_local_response(a, b, c, d, e, f, g, h)
            }
            16 => {
                let [a, b, c, d, e, f, g, h, i, j] = r.args()?;
                proxy_http_call(a, b, c, d, e, f, g, h, i, j)
            }
            17 => {
                let [a, b, c, d] = r.args()?;
                proxy_define_metric(a, b, c, d)
            }
            18 => {
                let [a, b, c] = r.args()?;
                proxy_increment_metric(a, i64::from(b as i32) * i64::from(c))
            }
            19 => {
                let [a, b] = r.args()?;
                proxy_record_metric(a, i64::from(b as i32))
            }
            20 => {
                let [a, b] = r.args()?;
                proxy_get_metric(a, b)
            }
            21 => {
                let [a, b, c, d, e] = r.args()?;
                proxy_get_shared_data(a, b, c, d, e)
            }
            22 => {
                let [a, b, c, d, e] = r.args()?;
                proxy_set_shared_data(a, b, c, d, e)
            }
            23 => proxy_continue_stream(r.arg()?),
            _ => proxy_close_stream(r.arg()?),
        }
    })
}
