//! A plugin that misbehaves as its configuration says, on request headers:
//! `loop` spins forever, `trap` panics, `oom` allocates without end, `wild`
//! hands the host pointers outside its memory, `huge` sets a 4 MiB header,
//! `smuggle` tries header injection through a value, `ok` behaves.

use proxy_wasm::traits::*;
use proxy_wasm::types::*;

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root { mode: String::new() }) });
}}

struct Root {
    mode: String,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        self.mode =
            self.get_plugin_configuration().map(|b| String::from_utf8_lossy(&b).to_string()).unwrap_or_default();
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Hostile { mode: self.mode.clone() }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Hostile {
    mode: String,
}

impl Context for Hostile {}

#[link(wasm_import_module = "env")]
unsafe extern "C" {
    fn proxy_get_header_map_value(
        map: u32,
        key: *const u8,
        key_len: usize,
        ret: *mut *mut u8,
        ret_len: *mut usize,
    ) -> u32;
    fn proxy_log(level: u32, msg: *const u8, len: usize) -> u32;
}

impl HttpContext for Hostile {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        match self.mode.as_str() {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "trap" => panic!("the plugin gives up"),
            "oom" => {
                // Reserved, not written: the bomb reaches the cap at once
                // rather than racing the callback deadline on a busy machine.
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(Vec::with_capacity(1 << 20));
                    std::hint::black_box(&hoard);
                }
            }
            "wild" => {
                // Every argument points far outside linear memory.
                let wild = 0xFFFF_FF00usize as *mut u8;
                let s1 = unsafe { proxy_get_header_map_value(0, wild, 64, wild as *mut *mut u8, wild as *mut usize) };
                let s2 = unsafe { proxy_log(2, wild, 1 << 20) };
                self.set_http_request_header("x-wild-statuses", Some(&format!("{s1},{s2}")));
                Action::Continue
            }
            "huge" => {
                self.set_http_request_header("x-huge", Some(&"h".repeat(4 << 20)));
                Action::Continue
            }
            "smuggle" => {
                // A value trying to smuggle in a header of its own.
                self.set_http_request_header("x-split", Some("a\r\nx-injected: 1"));
                self.set_http_request_header("x-hostile", Some("smuggler"));
                Action::Continue
            }
            _ => {
                self.set_http_request_header("x-hostile", Some("behaved"));
                Action::Continue
            }
        }
    }
}
