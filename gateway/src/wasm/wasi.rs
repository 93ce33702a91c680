//! WASI preview1 for plugins: no filesystem, no environment, no network.
//! What a Rust, Go or C guest calls at start-up answers like an empty
//! sandbox; stdout and stderr go to the gateway's log.

use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use wasmtime::{Caller, Linker};

use super::host::{HostState, read_guest, write_guest};

pub const MODULE: &str = "wasi_snapshot_preview1";
const ESUCCESS: i32 = 0;
const EBADF: i32 = 8;
const EFAULT: i32 = 21;
/// Returned by every WASI function the sandbox does not provide.
pub const ENOSYS: i32 = 52;

fn put_u32(caller: &mut Caller<'_, HostState>, ptr: i32, v: u32) -> bool {
    write_guest(caller, ptr, &v.to_le_bytes()).is_ok()
}

/// Adds the WASI functions the sandbox implements; the others are linked
/// per module as stubs returning ENOSYS.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(MODULE, "args_sizes_get", |mut c: Caller<'_, HostState>, argc: i32, size: i32| {
        if put_u32(&mut c, argc, 0) && put_u32(&mut c, size, 0) { ESUCCESS } else { EFAULT }
    })?;
    linker.func_wrap(MODULE, "args_get", |_: Caller<'_, HostState>, _: i32, _: i32| ESUCCESS)?;
    linker.func_wrap(MODULE, "environ_sizes_get", |mut c: Caller<'_, HostState>, n: i32, size: i32| {
        if put_u32(&mut c, n, 0) && put_u32(&mut c, size, 0) { ESUCCESS } else { EFAULT }
    })?;
    linker.func_wrap(MODULE, "environ_get", |_: Caller<'_, HostState>, _: i32, _: i32| ESUCCESS)?;
    linker.func_wrap(
        MODULE,
        "clock_time_get",
        |mut c: Caller<'_, HostState>, _id: i32, _precision: i64, ret: i32| {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
            if write_guest(&mut c, ret, &now.to_le_bytes()).is_ok() { ESUCCESS } else { EFAULT }
        },
    )?;
    linker.func_wrap(MODULE, "clock_res_get", |mut c: Caller<'_, HostState>, _id: i32, ret: i32| {
        if write_guest(&mut c, ret, &1u64.to_le_bytes()).is_ok() { ESUCCESS } else { EFAULT }
    })?;
    linker.func_wrap(
        MODULE,
        "fd_write",
        |mut c: Caller<'_, HostState>, fd: i32, iovs: i32, iovs_len: i32, nwritten: i32| {
            if fd != 1 && fd != 2 {
                return EBADF;
            }
            let Ok(raw) = read_guest(&mut c, iovs, iovs_len.saturating_mul(8)) else { return EFAULT };
            let mut text = Vec::new();
            for iov in raw.chunks_exact(8) {
                let ptr = i32::from_le_bytes([iov[0], iov[1], iov[2], iov[3]]);
                let len = i32::from_le_bytes([iov[4], iov[5], iov[6], iov[7]]);
                let Ok(bytes) = read_guest(&mut c, ptr, len) else { return EFAULT };
                text.extend_from_slice(&bytes);
            }
            let plugin = c.data().plugin_name.clone();
            let line = String::from_utf8_lossy(&text);
            let line = line.trim_end();
            if !line.is_empty() {
                tracing::info!(target: "wasmgress::plugin", plugin = %plugin, stream = if fd == 1 { "stdout" } else { "stderr" }, "{line}");
            }
            if put_u32(&mut c, nwritten, text.len() as u32) { ESUCCESS } else { EFAULT }
        },
    )?;
    linker.func_wrap(MODULE, "random_get", |mut c: Caller<'_, HostState>, buf: i32, len: i32| {
        // SipHash keyed by the process's random seed: unpredictable to the
        // guest, with no extra dependency. Not for key generation.
        let state = std::collections::hash_map::RandomState::new();
        let mut bytes = Vec::with_capacity(len.max(0) as usize);
        let mut counter = 0u64;
        while bytes.len() < len.max(0) as usize {
            let mut h = state.build_hasher();
            h.write_u64(counter);
            bytes.extend_from_slice(&h.finish().to_le_bytes());
            counter += 1;
        }
        bytes.truncate(len.max(0) as usize);
        if write_guest(&mut c, buf, &bytes).is_ok() { ESUCCESS } else { EFAULT }
    })?;
    linker.func_wrap(MODULE, "proc_exit", |_: Caller<'_, HostState>, code: i32| -> wasmtime::Result<()> {
        Err(wasmtime::Error::msg(format!("plugin called proc_exit({code})")))
    })?;
    linker.func_wrap(MODULE, "sched_yield", |_: Caller<'_, HostState>| ESUCCESS)?;
    linker.func_wrap(MODULE, "fd_fdstat_get", |mut c: Caller<'_, HostState>, fd: i32, ret: i32| {
        if !(0..=2).contains(&fd) {
            return EBADF;
        }
        // filetype character device, no flags, no rights.
        let mut stat = [0u8; 24];
        stat[0] = 2;
        if write_guest(&mut c, ret, &stat).is_ok() { ESUCCESS } else { EFAULT }
    })?;
    linker.func_wrap(
        MODULE,
        "fd_fdstat_set_flags",
        |_: Caller<'_, HostState>, fd: i32, _: i32| {
            if (0..=2).contains(&fd) { ESUCCESS } else { EBADF }
        },
    )?;
    // No preopened directories: libc's start-up scan ends at the first EBADF.
    linker.func_wrap(MODULE, "fd_prestat_get", |_: Caller<'_, HostState>, _: i32, _: i32| EBADF)?;
    linker.func_wrap(MODULE, "fd_prestat_dir_name", |_: Caller<'_, HostState>, _: i32, _: i32, _: i32| EBADF)?;
    linker.func_wrap(MODULE, "fd_close", |_: Caller<'_, HostState>, _: i32| EBADF)?;
    Ok(())
}
