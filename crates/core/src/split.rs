//! Cuts a blob, a JSON array, into the raw text of its elements without parsing them.
//! Strings and brackets are tracked 64 bytes at a time, so a noise record costs a
//! fraction of a full parse; the few candidates are parsed, and so validated, later.
#![warn(missing_docs)]

/// Why a body is not one whole JSON array; the blob is downloaded again.
#[derive(Debug, thiserror::Error)]
pub enum Malformed {
    /// What is wrong with the body, and the byte offset where it was found.
    #[error("{0} at byte {1}")]
    Shape(&'static str, usize),
    /// serde_json rejected an element that is not an object or array.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// The elements of a blob's top-level array, each as its exact text, in order. They are
/// read lazily, so a record is checked and judged while it is still in cache.
///
/// Yields an error for what serde_json would reject at the top level (not an array,
/// missing or extra commas, characters after it), for text that is not UTF-8, and for
/// any body cut short: an open string or bracket, a missing `]`. Inside an object or
/// array only strings and brackets are checked; a full parse of candidates does the rest.
pub fn records(body: &[u8]) -> Records<'_> {
    Records {
        b: body,
        i: 0,
        started: false,
        done: false,
        folded: Vec::new(),
        folded_len: 0,
    }
}

/// The iterator [`records`] returns; it ends after its first error.
pub struct Records<'a> {
    b: &'a [u8],
    /// Where the next element starts, or the previous one ended.
    i: usize,
    started: bool,
    done: bool,
    /// The last element, folded, at the start; see [`Records::folded`]. It keeps the
    /// size of the longest element, so each is folded into room already there.
    folded: Vec<u8>,
    /// How long the last element is.
    folded_len: usize,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<&'a str, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.step();
        self.done = !matches!(next, Ok(Some(_)));
        next.transpose()
    }
}

impl<'a> Records<'a> {
    /// The element [`Iterator::next`] returned last, each byte with bit 5 set: ASCII
    /// letters lower-cased, what `rulewatch_detect::sift_folded` searches. The split
    /// folds each 64 bytes while it holds them in registers: folding them again in the
    /// sift, a pass of its own, cost it a tenth of its time (issue 15).
    pub fn folded(&self) -> &[u8] {
        &self.folded[..self.folded_len]
    }

    fn step(&mut self) -> Result<Option<&'a str>, Malformed> {
        let b = self.b;
        if self.started {
            let i = skip_ws(b, self.i);
            match b.get(i) {
                Some(b',') => self.i = skip_ws(b, i + 1),
                Some(b']') => return self.finish(i + 1),
                Some(_) => return Err(Malformed::Shape("expected , or ] after an element", i)),
                None => return Err(Malformed::Shape("the body ends inside the array", i)),
            }
        } else {
            self.started = true;
            let i = skip_ws(b, 0);
            if b.get(i) != Some(&b'[') {
                return Err(Malformed::Shape("expected the array's [", i));
            }
            self.i = skip_ws(b, i + 1);
            if b.get(self.i) == Some(&b']') {
                return self.finish(self.i + 1);
            }
        }
        let start = self.i;
        let (end, ascii) = match b.get(start) {
            Some(b'{' | b'[') => container_end(b, start, &mut self.folded)?,
            Some(_) => {
                let end = scalar_end(b, start)?;
                self.folded.clear();
                self.folded.extend(b[start..end].iter().map(|c| c | 0x20));
                (end, false)
            }
            None => return Err(Malformed::Shape("the body ends inside the array", start)),
        };
        self.folded_len = end - start;
        self.i = end;
        let element = &b[start..end];
        if ascii {
            // SAFETY: the scan saw no byte of 0x80 or above in the element, and text of
            // ASCII bytes only is UTF-8.
            return Ok(Some(unsafe { std::str::from_utf8_unchecked(element) }));
        }
        // Every byte outside the elements was matched as ASCII above, so checking each
        // element, while it is in cache, checks the whole body. The vectorised check is
        // several times faster than std's, which then says where a bad byte is.
        let text = simdutf8::basic::from_utf8(element)
            .or_else(|_| std::str::from_utf8(element))
            .map_err(|e| Malformed::Shape("text that is not UTF-8", start + e.valid_up_to()))?;
        Ok(Some(text))
    }

    fn finish(&self, after: usize) -> Result<Option<&'a str>, Malformed> {
        let i = skip_ws(self.b, after);
        if i == self.b.len() {
            Ok(None)
        } else {
            Err(Malformed::Shape("characters after the array", i))
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = b.get(i) {
        i += 1;
    }
    i
}

/// One past the string, number or literal at `start`; rare in a blob, so serde_json
/// reads it.
fn scalar_end(b: &[u8], start: usize) -> Result<usize, Malformed> {
    let mut values =
        serde_json::Deserializer::from_slice(&b[start..]).into_iter::<serde::de::IgnoredAny>();
    match values.next() {
        Some(Ok(_)) => Ok(start + values.byte_offset()),
        Some(Err(e)) => Err(e.into()),
        None => Err(Malformed::Shape("the body ends inside the array", b.len())),
    }
}

/// One past the bracket that closes the object or array opening at `start`, and whether
/// every byte up to there is ASCII (so the element needs no UTF-8 check). The bytes
/// from `start` are folded (see [`Records::folded`]) into the start of `folded`, which
/// grows to hold them, in whole blocks of 64: up to the element's end and perhaps past it.
fn container_end(b: &[u8], start: usize, folded: &mut Vec<u8>) -> Result<(usize, bool), Malformed> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("pclmulqdq")
    {
        // SAFETY: the CPU has both features, checked just above.
        return unsafe { container_end_avx2(b, start, folded) };
    }
    scan::<false>(b, start, folded)
}

/// [`scan`] compiled for AVX2 and carry-less multiplication: 32 bytes a compare, and a
/// string's extent from one multiplication instead of six shifts (simdjson's stage 1).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq")]
unsafe fn container_end_avx2(
    b: &[u8],
    start: usize,
    folded: &mut Vec<u8>,
) -> Result<(usize, bool), Malformed> {
    scan::<true>(b, start, folded)
}

/// [`container_end`]'s work, with the AVX2 classifier when `WIDE` (only ever inlined into
/// a function compiled for it).
#[inline(always)]
fn scan<const WIDE: bool>(
    b: &[u8],
    start: usize,
    folded: &mut Vec<u8>,
) -> Result<(usize, bool), Malformed> {
    let mut strings = Strings::default();
    // The high bits of every block read: none set, the element is ASCII.
    let mut high = 0;
    let mut open = Open::default();
    let mut pos = start;
    // Spaces are none of the classified bytes: the last block is padded with them.
    let mut tail = [b' '; 64];
    while pos < b.len() {
        let block: &[u8; 64] = match b.get(pos..pos + 64) {
            Some(block) => block.try_into().expect("64 bytes"),
            None => {
                tail[..b.len() - pos].copy_from_slice(&b[pos..]);
                &tail
            }
        };
        prefetch(b, pos + PREFETCH_AHEAD);
        // Folded straight into place: through a block on the stack, the copy cost as
        // much as the folding.
        let at = pos - start;
        if folded.len() < at + 64 {
            folded.resize((at + 64).max(2 * folded.len()), 0);
        }
        let out = (&mut folded[at..at + 64]).try_into().expect("64 bytes");
        let masks = classify_as::<WIDE>(block, out);
        high |= masks.high;
        let mut brackets = strings.brackets_outside::<WIDE>(&masks);
        while brackets != 0 {
            let at = pos + brackets.trailing_zeros() as usize;
            brackets &= brackets - 1;
            match b[at] {
                c @ (b'{' | b'[') => open.push(c == b'{'),
                c => {
                    if (c == b'}') != open.pop() {
                        return Err(Malformed::Shape("mismatched bracket", at));
                    }
                    if open.depth == 0 {
                        return Ok((at + 1, high == 0));
                    }
                }
            }
        }
        pos += 64;
    }
    Err(Malformed::Shape("the body ends inside an element", b.len()))
}

/// How far ahead of the block being classified [`prefetch`] asks for bytes: a record or
/// two, so the next is on its way while this one is sifted and read. Measured on the
/// pipeline benchmark, 1 KiB to 4 KiB did alike; 512 bytes was too close.
const PREFETCH_AHEAD: usize = 2048;

/// Asks the CPU to bring the cache line holding `b[at]` in, if `b` has it. Each block's
/// work hangs on the one before (string and bracket state), so the CPU does not run far
/// enough ahead to start loading the lines it will need: without this hint the split
/// alone read blobs from memory at half its speed from cache, and the whole pipeline
/// waited on memory for a fifth of its time (issue 15).
#[inline(always)]
fn prefetch(b: &[u8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(ahead) = b.get(at) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is only a hint, reads nothing the program sees and cannot
        // fault; the address is inside `b` besides.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(ahead).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (b, at);
}

/// The open brackets, one bit each (set for `{`), innermost lowest. serde_json skips
/// values of any depth, so this does too; levels past 64 spill to the heap.
#[derive(Default)]
struct Open {
    low: u64,
    spilled: Vec<u64>,
    depth: usize,
}

impl Open {
    fn push(&mut self, object: bool) {
        if self.depth > 0 && self.depth.is_multiple_of(64) {
            self.spilled.push(self.low);
            self.low = 0;
        }
        self.low = self.low << 1 | u64::from(object);
        self.depth += 1;
    }

    /// Whether the innermost bracket, now closed, was an object's. Only called while
    /// `depth > 0`: the scan returns when the element's own bracket closes.
    fn pop(&mut self) -> bool {
        let object = self.low & 1 == 1;
        self.low >>= 1;
        self.depth -= 1;
        if self.depth > 0 && self.depth.is_multiple_of(64) {
            self.low = self.spilled.pop().unwrap_or_default();
        }
        object
    }
}

/// Bit i stands for byte i of a 64-byte block.
#[derive(Debug, Default, PartialEq)]
struct Masks {
    quote: u64,
    backslash: u64,
    bracket: u64,
    /// Bytes of 0x80 or above: not ASCII.
    high: u64,
}

/// String state carried from one block to the next.
#[derive(Default)]
struct Strings {
    /// All ones when the previous block ended inside a string.
    inside: u64,
    /// 1 when the previous block ended with an escaping backslash.
    escaped: u64,
}

const ODD_BITS: u64 = 0xAAAA_AAAA_AAAA_AAAA;

impl Strings {
    /// The block's brackets that are not inside a string.
    #[inline(always)]
    fn brackets_outside<const WIDE: bool>(&mut self, m: &Masks) -> u64 {
        let escaped = if m.backslash == 0 {
            std::mem::take(&mut self.escaped)
        } else {
            // simdjson's carry trick: a subtraction runs through each backslash run at
            // once and leaves bits where an odd run escapes the next byte.
            let starts = m.backslash & !self.escaped;
            let code = ((starts << 1 | ODD_BITS).wrapping_sub(starts)) ^ ODD_BITS;
            let escaped = code ^ (m.backslash | self.escaped);
            self.escaped = (code & m.backslash) >> 63;
            escaped
        };
        let inside = prefix_xor_as::<WIDE>(m.quote & !escaped) ^ self.inside;
        self.inside = ((inside as i64) >> 63) as u64;
        m.bracket & !inside
    }
}

/// Bit i becomes the xor of bits 0..=i: set from an opening quote up to its closing one.
fn prefix_xor(mut x: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        x ^= x << shift;
    }
    x
}

/// [`prefix_xor`] as one carry-less multiplication by all ones.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
#[inline]
fn prefix_xor_clmul(x: u64) -> u64 {
    use std::arch::x86_64::{_mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x};
    let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set_epi64x(0, -1), 0);
    _mm_cvtsi128_si64(product) as u64
}

/// The prefix xor `scan` was compiled for.
#[inline(always)]
fn prefix_xor_as<const WIDE: bool>(x: u64) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if WIDE {
        // SAFETY: WIDE is only compiled into `container_end_avx2`, whose caller checked
        // the CPU has carry-less multiplication.
        return unsafe { prefix_xor_clmul(x) };
    }
    prefix_xor(x)
}

/// The classifier `scan` was compiled for.
#[inline(always)]
fn classify_as<const WIDE: bool>(block: &[u8; 64], folded: &mut [u8; 64]) -> Masks {
    #[cfg(target_arch = "x86_64")]
    if WIDE {
        // SAFETY: WIDE is only compiled into `container_end_avx2`, whose caller checked
        // the CPU has AVX2.
        return unsafe { classify_avx2(block, folded) };
    }
    classify(block, folded)
}

/// [`classify`] 32 bytes at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn classify_avx2(block: &[u8; 64], out: &mut [u8; 64]) -> Masks {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8, _mm256_storeu_si256,
    };
    let mut m = Masks::default();
    for k in 0..2 {
        // SAFETY: the load reads 32 of the block's 64 bytes and allows any alignment.
        let v = unsafe { _mm256_loadu_si256(block.as_ptr().add(32 * k).cast::<__m256i>()) };
        // `[` `]` differ from `{` `}` only in bit 5.
        let folded = _mm256_or_si256(v, _mm256_set1_epi8(0x20));
        // SAFETY: the store writes 32 of `out`'s 64 bytes and allows any alignment.
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().add(32 * k).cast::<__m256i>(), folded) };
        let quote = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'"' as i8));
        let backslash = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\\' as i8));
        let bracket = _mm256_or_si256(
            _mm256_cmpeq_epi8(folded, _mm256_set1_epi8(b'{' as i8)),
            _mm256_cmpeq_epi8(folded, _mm256_set1_epi8(b'}' as i8)),
        );
        let shift = 32 * k;
        m.quote |= u64::from(_mm256_movemask_epi8(quote) as u32) << shift;
        m.backslash |= u64::from(_mm256_movemask_epi8(backslash) as u32) << shift;
        m.bracket |= u64::from(_mm256_movemask_epi8(bracket) as u32) << shift;
        m.high |= u64::from(_mm256_movemask_epi8(v) as u32) << shift;
    }
    m
}

/// The block's strings' and brackets' bytes, one mask each, with the block folded into
/// `out` (see [`Records::folded`]).
#[cfg(target_arch = "x86_64")]
fn classify(block: &[u8; 64], out: &mut [u8; 64]) -> Masks {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_storeu_si128,
    };
    let mut m = Masks::default();
    for k in 0..4 {
        // SAFETY: SSE2 is part of every x86_64 CPU; the load reads 16 of the block's 64
        // bytes, the store writes 16 of `out`'s, and both allow any alignment.
        unsafe {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast::<__m128i>());
            let eq = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
            let bits = |x| u64::from(_mm_movemask_epi8(x) as u16) << (16 * k);
            // `[` `]` differ from `{` `}` only in bit 5.
            let folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
            _mm_storeu_si128(out.as_mut_ptr().add(16 * k).cast::<__m128i>(), folded);
            let fold_eq = |c: u8| _mm_cmpeq_epi8(folded, _mm_set1_epi8(c as i8));
            m.quote |= bits(eq(b'"'));
            m.backslash |= bits(eq(b'\\'));
            m.bracket |= bits(_mm_or_si128(fold_eq(b'{'), fold_eq(b'}')));
            m.high |= bits(v);
        }
    }
    m
}

#[cfg(not(target_arch = "x86_64"))]
fn classify(block: &[u8; 64], out: &mut [u8; 64]) -> Masks {
    classify_bytes(block, out)
}

/// The portable classifier, byte by byte; on x86_64 it checks the vector one in tests.
#[cfg(any(not(target_arch = "x86_64"), test))]
fn classify_bytes(block: &[u8; 64], out: &mut [u8; 64]) -> Masks {
    let mut m = Masks::default();
    for (i, &c) in block.iter().enumerate() {
        out[i] = c | 0x20;
        let bit = 1 << i;
        match c {
            b'"' => m.quote |= bit,
            b'\\' => m.backslash |= bit,
            b'{' | b'}' | b'[' | b']' => m.bracket |= bit,
            0x80.. => m.high |= bit,
            _ => {}
        }
    }
    m
}

#[cfg(test)]
mod tests;
