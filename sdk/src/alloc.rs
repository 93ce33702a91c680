//! The WebAssembly build's allocator: lists of freed small blocks, one per
//! size class, in front of the system allocator (wasi-libc's dlmalloc).
//! A plugin allocates and frees much the same few hundred small strings
//! and vectors on every request. Taking a block off a list is a few
//! instructions; each dlmalloc call went through four layers of calls,
//! and they were about a third of a WAF request's WebAssembly time.
//!
//! A freed block goes back on its list while the list holds less than
//! `RETAIN` bytes, else back to the system allocator, so a request that
//! made many blocks of one size leaves at most `CLASSES × RETAIN` bytes
//! behind. Larger blocks, and those aligned beyond `ALIGN`, go straight
//! to the system allocator.
//!
//! It is not thread-safe: the lists are plain cells. The global instance
//! exists only in single-threaded WebAssembly builds (no `atomics`).

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::ptr;

/// Every small block is aligned to this, whatever its layout asks.
const ALIGN: usize = 16;
/// Blocks up to this size are kept on lists.
const MAX_SMALL: usize = 4096;
/// Sixteen classes 16 bytes apart up to 256, then 512, 1 KiB, 2 KiB, 4 KiB.
const CLASSES: usize = 20;
/// The most bytes one list keeps.
const RETAIN: usize = 256 * 1024;

/// The class of a small block of `size` bytes.
fn class(size: usize) -> usize {
    if size <= 256 {
        size.max(1).div_ceil(16) - 1
    } else {
        16 + (size.next_power_of_two().trailing_zeros() as usize - 9)
    }
}

/// The size of the blocks of class `c`.
fn class_size(c: usize) -> usize {
    if c < 16 { (c + 1) * 16 } else { 512 << (c - 16) }
}

fn is_small(layout: Layout) -> bool {
    layout.size() <= MAX_SMALL && layout.align() <= ALIGN
}

struct Lists {
    /// The first free block of each class; each free block starts with a
    /// pointer to the next.
    heads: [*mut u8; CLASSES],
    /// Bytes on each list.
    held: [usize; CLASSES],
}

/// Size-class lists in front of the allocator `A`.
pub struct SizeClasses<A> {
    inner: A,
    lists: UnsafeCell<Lists>,
}

// SAFETY: only the single-threaded WebAssembly build shares an instance
// (as its global allocator); without threads no two calls overlap.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl<A: Sync> Sync for SizeClasses<A> {}

impl<A: GlobalAlloc> SizeClasses<A> {
    pub const fn new(inner: A) -> Self {
        Self { inner, lists: UnsafeCell::new(Lists { heads: [ptr::null_mut(); CLASSES], held: [0; CLASSES] }) }
    }

    fn block_layout(c: usize) -> Layout {
        // A power of two and a size that is a multiple of it: always valid.
        Layout::from_size_align(class_size(c), ALIGN).unwrap_or_else(|_| unreachable!("class sizes are valid"))
    }
}

// SAFETY: a small block is handed out once, from a list or fresh from
// `inner` with its class's size and `ALIGN`, so it fits any layout of its
// class; it returns to that list or to `inner` with the layout it was
// made with. Other layouts pass through to `inner` unchanged.
unsafe impl<A: GlobalAlloc> GlobalAlloc for SizeClasses<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !is_small(layout) {
            // SAFETY: the caller's layout, as the caller promised.
            return unsafe { self.inner.alloc(layout) };
        }
        let c = class(layout.size());
        // SAFETY: no other call runs meanwhile (see `Sync`), and nothing
        // here re-enters the allocator while the lists are borrowed.
        let lists = unsafe { &mut *self.lists.get() };
        let head = lists.heads[c];
        if head.is_null() {
            // SAFETY: a valid, non-zero layout.
            return unsafe { self.inner.alloc(Self::block_layout(c)) };
        }
        // SAFETY: a free block of this class starts with the next one's address.
        lists.heads[c] = unsafe { head.cast::<*mut u8>().read() };
        lists.held[c] -= class_size(c);
        head
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        if !is_small(layout) {
            // SAFETY: allocated by `inner` with this layout.
            return unsafe { self.inner.dealloc(block, layout) };
        }
        let c = class(layout.size());
        // SAFETY: as in `alloc`.
        let lists = unsafe { &mut *self.lists.get() };
        if lists.held[c] >= RETAIN {
            // SAFETY: the block was made by `inner` with its class's layout.
            return unsafe { self.inner.dealloc(block, Self::block_layout(c)) };
        }
        // SAFETY: the block is ours again, at least 16 bytes and 16-aligned.
        unsafe { block.cast::<*mut u8>().write(lists.heads[c]) };
        lists.heads[c] = block;
        lists.held[c] += class_size(c);
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let small = is_small(layout);
        if small && new_size <= MAX_SMALL && class(new_size) == class(layout.size()) {
            // The block already has room: growing a string within its class is free.
            return block;
        }
        if !small && new_size > MAX_SMALL {
            // SAFETY: allocated by `inner` with `layout`; the caller keeps
            // the new size valid for its alignment.
            return unsafe { self.inner.realloc(block, layout, new_size) };
        }
        // SAFETY: the caller promises `new_size` is valid with this alignment.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as in `alloc` and `dealloc`; the two blocks are distinct
        // and each holds at least the bytes copied.
        unsafe {
            let moved = self.alloc(new_layout);
            if !moved.is_null() {
                ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
            moved
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;
    use std::cell::RefCell;

    /// The system allocator, counting what reaches it.
    #[derive(Default)]
    struct Counting {
        live: RefCell<usize>,
        calls: RefCell<usize>,
    }

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            *self.live.borrow_mut() += 1;
            *self.calls.borrow_mut() += 1;
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
            *self.live.borrow_mut() -= 1;
            *self.calls.borrow_mut() += 1;
            unsafe { System.dealloc(block, layout) }
        }
    }

    #[test]
    fn classes_cover_every_small_size_with_room() {
        let mut last = 0;
        for size in 1..=MAX_SMALL {
            let c = class(size);
            assert!(c < CLASSES, "{size}");
            assert!(class_size(c) >= size, "{size}");
            assert!(c >= last, "classes grow with sizes");
            last = c;
        }
        assert_eq!(class(MAX_SMALL), CLASSES - 1);
        assert_eq!((class(16), class(17), class(256), class(257)), (0, 1, 15, 16));
    }

    #[test]
    fn freed_blocks_are_reused_and_aligned() {
        let a = SizeClasses::new(Counting::default());
        unsafe {
            for align in [1, 2, 4, 8, 16] {
                for size in [1, 15, 16, 17, 100, 256, 300, 4096] {
                    let layout = Layout::from_size_align(size, align).unwrap();
                    let p = a.alloc(layout);
                    assert_eq!(p as usize % ALIGN, 0);
                    p.write_bytes(0xAB, size);
                    a.dealloc(p, layout);
                    // The same class gets the same block back, without the system allocator.
                    let calls = *a.inner.calls.borrow();
                    let q = a.alloc(Layout::from_size_align(class_size(class(size)), 1).unwrap());
                    assert_eq!(q, p);
                    assert_eq!(*a.inner.calls.borrow(), calls);
                    a.dealloc(q, layout);
                }
            }
            // Large and over-aligned blocks pass through.
            let big = Layout::from_size_align(MAX_SMALL + 1, 8).unwrap();
            let over = Layout::from_size_align(64, 64).unwrap();
            let live = *a.inner.live.borrow();
            let (p, q) = (a.alloc(big), a.alloc(over));
            assert_eq!(q as usize % 64, 0);
            assert_eq!(*a.inner.live.borrow(), live + 2);
            a.dealloc(p, big);
            a.dealloc(q, over);
            assert_eq!(*a.inner.live.borrow(), live);
        }
    }

    #[test]
    fn reallocation_keeps_the_bytes() {
        let a = SizeClasses::new(Counting::default());
        unsafe {
            let mut layout = Layout::from_size_align(3, 1).unwrap();
            let mut p = a.alloc(layout);
            p.copy_from(b"abc".as_ptr(), 3);
            // Within the class, across small classes, to large, and back.
            for size in [10, 16, 200, 3000, 5000, 9000, 40, 2] {
                let q = a.realloc(p, layout, size);
                if size <= 16 && layout.size() <= 16 {
                    assert_eq!(q, p, "room within the class");
                }
                assert_eq!(std::slice::from_raw_parts(q, 2), b"ab");
                if size >= 3 {
                    assert_eq!(*q.add(2), b'c');
                }
                (p, layout) = (q, Layout::from_size_align(size, 1).unwrap());
            }
            a.dealloc(p, layout);
        }
    }

    #[test]
    fn lists_hold_a_bounded_amount() {
        let a = SizeClasses::new(Counting::default());
        let layout = Layout::from_size_align(4096, 8).unwrap();
        unsafe {
            let blocks: Vec<_> = (0..200).map(|_| a.alloc(layout)).collect();
            assert_eq!(*a.inner.live.borrow(), 200);
            for p in blocks {
                a.dealloc(p, layout);
            }
        }
        // 64 blocks of 4 KiB stay for reuse; the rest went back.
        assert_eq!(*a.inner.live.borrow(), RETAIN / 4096);
        let lists = unsafe { &*a.lists.get() };
        assert_eq!(lists.held[class(4096)], RETAIN);
    }
}
