//! The C-ABI exports (wasm targets only; see `wasm/ABI.md`). Each one locks the single
//! [`Host`], turns the host's `(ptr, len)` into a slice after checking it against linear
//! memory, and hands back a pointer into the module-owned output buffer, which stays
//! valid until the next call of any export.

use crate::host::{pack, BadInput, Host};
use std::alloc::Layout;
use std::cell::UnsafeCell;

/// One engine per module instance. Not a `Mutex`: a trap in the middle of a call (with
/// `panic = "abort"` every panic is one) would leave a lock held, and a host that keeps the
/// instance after a trap, as Fluent Bit does, would then fail every later call.
struct HostCell(UnsafeCell<Option<Host>>);

// SAFETY: these modules are built without the threads proposal: one thread, and an instance
// runs one export call at a time, so the cell is never accessed concurrently.
unsafe impl Sync for HostCell {}

static HOST: HostCell = HostCell(UnsafeCell::new(None));

fn with_host<R>(f: impl FnOnce(&mut Host) -> R) -> R {
    // SAFETY: single-threaded (see `HostCell`), and no export calls another export or
    // `with_host` while `f` runs, so this is the only reference to the state.
    let state = unsafe { &mut *HOST.0.get() };
    f(state.get_or_insert_with(Host::new))
}

/// A pointer to the output buffer, as the host reads it.
fn out_ptr(out: &[u8]) -> u32 {
    out.as_ptr() as usize as u32
}

fn packed(out: &[u8]) -> i64 {
    pack(out_ptr(out), out.len() as u32)
}

const WASM_PAGE: u64 = 65_536;

/// The host's `(ptr, len)` as a slice, or why it cannot be read. Never traps.
///
/// # Safety
/// When the range lies inside linear memory it must be a buffer the module does not use
/// otherwise (one from `alloc`/`malloc`, or Fluent Bit's app heap), not written during the
/// call. Out-of-bounds and null ranges are rejected here.
unsafe fn input<'a>(ptr: i32, len: i32) -> Result<&'a [u8], BadInput> {
    let (p, n) = (ptr as u32 as u64, len as u32 as u64);
    if n == 0 {
        return Ok(&[]);
    }
    if p == 0 {
        return Err(BadInput::Null);
    }
    let memory = std::arch::wasm32::memory_size::<0>() as u64 * WASM_PAGE;
    if p + n > memory {
        return Err(BadInput::OutOfBounds);
    }
    // SAFETY: `p..p+n` is non-null and inside linear memory, which is always mapped and
    // readable; the caller guarantees nothing in the module aliases it mutably meanwhile,
    // and the slice does not outlive the export call (`'a` is chosen by that call).
    Ok(unsafe { std::slice::from_raw_parts(p as usize as *const u8, n as usize) })
}

/// Allocate `len` bytes (align 8) for the host to write input into; 0 on failure.
#[no_mangle]
pub extern "C" fn alloc(len: i32) -> i32 {
    // A zero-size layout is not allowed by the allocator: hand out one byte instead.
    let Ok(layout) = Layout::from_size_align((len as u32 as usize).max(1), 8) else {
        return 0;
    };
    // SAFETY: `layout` has a non-zero size.
    unsafe { std::alloc::alloc(layout) as usize as i32 }
}

/// Free what `alloc` gave. A null `ptr` is ignored.
///
/// # Safety
/// `ptr` must come from `alloc(len)` with the same `len`, and not be freed twice.
#[no_mangle]
pub unsafe extern "C" fn dealloc(ptr: i32, len: i32) {
    if ptr == 0 {
        return;
    }
    let Ok(layout) = Layout::from_size_align((len as u32 as usize).max(1), 8) else {
        return;
    };
    // SAFETY: by the caller's contract `ptr` was allocated by `alloc` with this layout.
    unsafe { std::alloc::dealloc(ptr as u32 as usize as *mut u8, layout) }
}

/// On wasm32-wasip1 `malloc`/`free` are wasi-libc's, exported by `build.rs`; here (no
/// libc) they are ours: `free` has no length, so a header keeps it.
#[cfg(not(target_os = "wasi"))]
mod c_alloc {
    use std::alloc::Layout;

    /// Bytes before the block: its total size. 8 keeps the block 8-aligned.
    const HEADER: usize = 8;

    /// Allocate `size` bytes (align 8); 0 on failure.
    #[no_mangle]
    pub extern "C" fn malloc(size: i32) -> i32 {
        let Some(total) = (size as u32 as usize).checked_add(HEADER) else {
            return 0;
        };
        let Ok(layout) = Layout::from_size_align(total, 8) else {
            return 0;
        };
        // SAFETY: `layout` has a non-zero size (at least the header).
        let p = unsafe { std::alloc::alloc(layout) };
        if p.is_null() {
            return 0;
        }
        // SAFETY: `p` is valid for `total >= HEADER` bytes and 8-aligned, so the header fits.
        unsafe { p.cast::<usize>().write(total) };
        (p as usize + HEADER) as i32
    }

    /// Free what `malloc` gave. A null `ptr` is ignored.
    ///
    /// # Safety
    /// `ptr` must come from `malloc` and not be freed twice.
    #[no_mangle]
    pub unsafe extern "C" fn free(ptr: i32) {
        if ptr == 0 {
            return;
        }
        let block = (ptr as u32 as usize - HEADER) as *mut u8;
        // SAFETY: `malloc` wrote the block's total size in the header right before `ptr`,
        // and allocated the block with exactly that size and align 8.
        unsafe {
            let total = block.cast::<usize>().read();
            std::alloc::dealloc(block, Layout::from_size_align_unchecked(total, 8));
        }
    }
}

/// (Re)create the engine from TOML config text (`cfg_len == 0`: defaults); flags bit 0:
/// OCSF, bit 1: emit all. Returns packed JSON: `{"ok":true,"state_bytes":N}` or
/// `{"ok":false,"error":"..."}` (the engine in place is then kept).
///
/// # Safety
/// `cfg_ptr..cfg_ptr+cfg_len` must be a buffer from `alloc`/`malloc` (see [`input`]).
#[no_mangle]
pub unsafe extern "C" fn jcdetect_init(cfg_ptr: i32, cfg_len: i32, flags: i32) -> i64 {
    // SAFETY: the caller's contract is `input`'s.
    let cfg = unsafe { input(cfg_ptr, cfg_len) };
    with_host(|h| packed(h.init(cfg, flags)))
}

/// The host clock (ns since the epoch), for alerts while no event time is known.
#[no_mangle]
pub extern "C" fn jcdetect_set_time(ns: i64) {
    with_host(|h| h.set_time(ns))
}

/// Feed a chunk of NDJSON (partial lines carried to the next call). Returns packed NDJSON.
///
/// # Safety
/// `ptr..ptr+len` must be a buffer from `alloc`/`malloc` (see [`input`]).
#[no_mangle]
pub unsafe extern "C" fn jcdetect_process(ptr: i32, len: i32) -> i64 {
    // SAFETY: the caller's contract is `input`'s.
    let chunk = unsafe { input(ptr, len) };
    with_host(|h| packed(h.process(chunk)))
}

/// End of stream: packed output of a final unterminated line.
#[no_mangle]
pub extern "C" fn jcdetect_flush() -> i64 {
    with_host(|h| packed(h.flush()))
}

/// Packed NDJSON of the diagnostics since the last call.
#[no_mangle]
pub extern "C" fn jcdetect_diagnostics() -> i64 {
    with_host(|h| packed(h.take_diagnostics()))
}

/// Packed JSON of the run counters (the CLI's `--stats-json` document).
#[no_mangle]
pub extern "C" fn jcdetect_stats() -> i64 {
    with_host(|h| packed(h.stats()))
}

/// Packed bytes of the window state (the file `jcdetect --state` writes).
#[no_mangle]
pub extern "C" fn jcdetect_snapshot() -> i64 {
    with_host(|h| packed(h.snapshot()))
}

/// Load a window state; packed JSON status.
///
/// # Safety
/// `ptr..ptr+len` must be a buffer from `alloc`/`malloc` (see [`input`]).
#[no_mangle]
pub unsafe extern "C" fn jcdetect_restore(ptr: i32, len: i32) -> i64 {
    // SAFETY: the caller's contract is `input`'s.
    let file = unsafe { input(ptr, len) };
    with_host(|h| packed(h.restore(file)))
}

/// Fluent Bit `wasm` filter (`Function_Name jcdetect_filter`, `Event_Format json`): a
/// NUL-terminated JSON record in, a pointer to a NUL-terminated JSON record out (`""`
/// drops the record). The tag is not used.
///
/// # Safety
/// `record..record+record_len` must be the buffer Fluent Bit allocated for the call
/// (see [`input`]).
#[no_mangle]
pub unsafe extern "C" fn jcdetect_filter(
    _tag: i32,
    _tag_len: i32,
    time_sec: i32,
    time_nsec: i32,
    record: i32,
    record_len: i32,
) -> i32 {
    // A null record comes with its length: Fluent Bit passes 0 when its copy failed.
    let rec = if record == 0 {
        Err(BadInput::Null)
    } else {
        // SAFETY: the caller's contract is `input`'s.
        unsafe { input(record, record_len) }
    };
    with_host(|h| out_ptr(h.filter(rec, time_sec as u32, time_nsec as u32)) as i32)
}

/// WASI reactor entry point: the host calls it once, before any other export. Without it
/// the module is neither a WASI command nor a reactor, and WAMR (Fluent Bit) prints a
/// warning on Fluent Bit's stdout, which is the pipeline's data stream.
#[cfg(target_os = "wasi")]
#[no_mangle]
pub extern "C" fn _initialize() {
    extern "C" {
        /// Synthesized by the linker: runs the static constructors (wasi-libc's), as
        /// wasi-libc's own reactor start file does.
        fn __wasm_call_ctors();
    }
    // SAFETY: called once by the host before anything else, as the reactor ABI requires.
    unsafe { __wasm_call_ctors() }
}
