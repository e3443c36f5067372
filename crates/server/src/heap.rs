//! Allocator tuning for a long-running origin on glibc.
//!
//! glibc serves allocations of 128 KiB and more with `mmap`, but after the first such block is
//! freed it raises that threshold to the freed size (up to 32 MiB). From then on keyframes,
//! chunk buffers and segment buffers of a few hundred KiB come from the heap arenas, are freed
//! at different times on different threads, and fragment them: under 20 publishers anonymous
//! memory grew by ~5 MiB over minutes (`docs/benchmarks.md`). Fixing the threshold keeps large
//! blocks in `mmap`, returned to the system when freed, and the heap flat.

/// Blocks of this size and more are mapped on their own (glibc's default starting threshold).
pub const MMAP_THRESHOLD: usize = 128 * 1024;

/// Fixes glibc's mmap threshold at [`MMAP_THRESHOLD`], which also stops its dynamic
/// adjustment. Call once at start, before threads exist. Does nothing when the operator set
/// `MALLOC_MMAP_THRESHOLD_` (glibc has already applied it) or off glibc. Returns whether the
/// threshold was set here.
pub fn fix_mmap_threshold() -> bool {
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some() {
        return false;
    }
    set_mmap_threshold(MMAP_THRESHOLD)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn set_mmap_threshold(bytes: usize) -> bool {
    let Ok(value) = libc::c_int::try_from(bytes) else {
        return false;
    };
    // SAFETY: mallopt only changes allocator parameters; M_MMAP_THRESHOLD accepts any value up
    // to HEAP_MAX/2 (32 MiB on 64-bit) and returns 0 for a value it refuses.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, value) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_mmap_threshold(_bytes: usize) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_the_threshold() {
        assert!(set_mmap_threshold(MMAP_THRESHOLD));
    }
}
