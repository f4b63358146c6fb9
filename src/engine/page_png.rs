//! A fast lossless PNG of a rendered page, for the request body of the `openai` engine.
//!
//! Encoding the page is on every request's critical path: the first byte cannot leave
//! before the last pixel is compressed, so it adds directly to TTFT. A document page is
//! mostly runs of equal pixels, which the `Sub` row filter turns into runs of zeros; this
//! encoder does only what such an image needs, and splits the work over threads:
//!
//! - rows get the `Sub` filter, but the filtered bytes are never stored: a filtered byte is
//!   zero exactly where a pixel equals its left neighbour, so the row is compared with itself
//!   shifted by one (64 and 8 bytes at a time) and the Adler-32 sums are updated from the
//!   symbols. One read of each pixel filters, checksums and compresses it;
//! - a run of three or more zeros is one literal `0` and copies of length ≤ 258 at
//!   distance 1; any other byte is a literal. Deflate's *fixed* Huffman code is used, so
//!   there is no table to build or send: a white row of 2,480 px costs about 20 bytes, and
//!   a page comes out 2–4% larger than with the png crate's tuned table;
//! - the image is cut into horizontal stripes, one per thread. Each stripe is its own
//!   deflate block and ends byte-aligned with an empty stored block (what `Z_SYNC_FLUSH`
//!   writes, as pigz does), so the stripes are simply concatenated. The Adler-32 of the
//!   whole stream is combined from the stripes' checksums.
//!
//! The output is a standard 8-bit grayscale PNG (one `IDAT`, `pHYs` with the DPI) that
//! any decoder reads; the tests decode it with the `png` crate and check the zlib stream
//! (and its checksum) with `miniz_oxide`.

use image::GrayImage;

/// Pixels below which a page is encoded on the calling thread: starting threads costs
/// more than it saves on a small image.
const MIN_PIXELS_PER_STRIPE: usize = 512 * 1024;

/// At most this many stripes (threads), however many cores there are.
const MAX_STRIPES: usize = 8;

/// The largest `IDAT` chunk (the format allows 2³¹ − 1 bytes).
const MAX_CHUNK: usize = (1 << 31) - 1;

/// The PNG of `image` with `dpi` in its `pHYs` chunk, encoded on up to `threads` threads
/// (0: one per available core).
pub fn encode(image: &GrayImage, dpi: f32, threads: usize) -> Vec<u8> {
    encode_in_chunks(image, dpi, threads, MAX_CHUNK)
}

/// [`encode`] with IDAT chunks of at most `max_chunk` bytes.
fn encode_in_chunks(image: &GrayImage, dpi: f32, threads: usize, max_chunk: usize) -> Vec<u8> {
    let (width, height) = image.dimensions();
    let stripes = stripe_count(width as usize, height as usize, threads);
    // A rendered page compresses to about 1/25 of its pixels; 1/16 leaves room.
    let mut out = Vec::with_capacity(image.as_raw().len() / 16 + 128);
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = [0u8; 13];
    ihdr[..4].copy_from_slice(&width.to_be_bytes());
    ihdr[4..8].copy_from_slice(&height.to_be_bytes());
    // bit depth 8, colour type 0 (grey), deflate, adaptive filtering, no interlace
    ihdr[8..].copy_from_slice(&[8, 0, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    let ppm = (dpi as f64 / 0.0254).round() as u32;
    let mut phys = [1u8; 9]; // the last byte: unit = metre
    phys[..4].copy_from_slice(&ppm.to_be_bytes());
    phys[4..8].copy_from_slice(&ppm.to_be_bytes());
    chunk(&mut out, b"pHYs", &phys);
    // The zlib stream is written straight into one IDAT chunk; its length and CRC are filled
    // in afterwards.
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(b"IDAT");
    zlib_stream_into(
        &mut out,
        image.as_raw(),
        width as usize,
        height as usize,
        stripes,
    );
    let len = out.len() - at - 8;
    if len <= max_chunk {
        out[at..at + 4].copy_from_slice(&(len as u32).to_be_bytes());
        let crc = crc32fast::hash(&out[at + 4..]);
        out.extend_from_slice(&crc.to_be_bytes());
    } else {
        // Too long for one chunk: split it (no page comes near this).
        let zlib = out.split_off(at + 8);
        out.truncate(at);
        for part in zlib.chunks(max_chunk) {
            chunk(&mut out, b"IDAT", part);
        }
    }
    chunk(&mut out, b"IEND", &[]);
    out
}

/// How many stripes to cut a `width` × `height` page into.
fn stripe_count(width: usize, height: usize, threads: usize) -> usize {
    let threads = match threads {
        0 => crate::model::device::cpu_threads(),
        n => n,
    };
    let by_size = (width * height / MIN_PIXELS_PER_STRIPE).max(1);
    threads.min(by_size).min(MAX_STRIPES).min(height).max(1)
}

/// Appends one PNG chunk: length, type, data, CRC-32 of type and data.
fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// The zlib stream of the `Sub`-filtered rows of a `width` × `height` grey image.
#[cfg(test)]
fn zlib_stream(pixels: &[u8], width: usize, height: usize, stripes: usize) -> Vec<u8> {
    let mut out = Vec::new();
    zlib_stream_into(&mut out, pixels, width, height, stripes);
    out
}

/// Appends the zlib stream of the `Sub`-filtered rows of a `width` × `height` grey image,
/// compressed in `stripes` horizontal stripes.
fn zlib_stream_into(out: &mut Vec<u8>, pixels: &[u8], width: usize, height: usize, stripes: usize) {
    let rows_per = height.div_ceil(stripes.max(1)).max(1);
    let bounds: Vec<(usize, usize)> = (0..height)
        .step_by(rows_per)
        .map(|r0| (r0, (r0 + rows_per).min(height)))
        .collect();
    let last = bounds.len().saturating_sub(1);
    let encode = |i: usize, (r0, r1): (usize, usize)| {
        deflate_rows(&pixels[r0 * width..r1 * width], width, i == last)
    };
    // Scoped threads rather than rayon's pool: waking its idle workers was slower than
    // starting two threads (measured: 1.3 vs 0.9 ms for a 300 DPI page on 2 cores).
    let parts: Vec<Stripe> = if bounds.len() <= 1 {
        bounds.iter().map(|&b| encode(0, b)).collect()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = bounds[1..]
                .iter()
                .enumerate()
                .map(|(i, &b)| scope.spawn(move || encode(i + 1, b)))
                .collect();
            let mut parts = vec![encode(0, bounds[0])];
            parts.extend(
                handles
                    .into_iter()
                    .map(|h| h.join().expect("a stripe encodes")),
            );
            parts
        })
    };

    // CMF 0x78: deflate, 32 KiB window; FLG 0x01: fastest level, header check (0x7801 % 31 == 0).
    out.reserve(2 + parts.iter().map(|p| p.bytes.len()).sum::<usize>() + 4 + 16);
    out.extend_from_slice(&[0x78, 0x01]);
    let mut adler = Adler::EMPTY;
    for part in &parts {
        out.extend_from_slice(&part.bytes);
        adler = adler.then(part.adler);
    }
    if parts.is_empty() {
        // No rows: one empty final block (fixed Huffman, end-of-block only).
        let mut bits = BitWriter::with_capacity(2);
        bits.put(0b011, 3);
        bits.put(0, 7);
        out.extend_from_slice(&bits.finish());
    }
    out.extend_from_slice(&adler.value().to_be_bytes());
}

/// One stripe's deflate data and the Adler-32 of the filtered bytes it holds.
struct Stripe {
    bytes: Vec<u8>,
    adler: Adler,
}

/// Deflates whole rows as one fixed-Huffman block, byte-aligned at the end: the final block
/// of the stream when `last`, else followed by an empty stored block.
///
/// The filtered bytes are never stored: a `Sub` byte is zero exactly when a pixel equals its
/// left neighbour, so runs are found by comparing the row with itself shifted by one, and the
/// Adler-32 sums are updated from the symbols (a run of k zeros adds k·A to B and nothing
/// to A). One read of each pixel does the filtering, the checksum and the compression.
fn deflate_rows(pixels: &[u8], width: usize, last: bool) -> Stripe {
    let width = width.max(1);
    let filtered_len = pixels.len() / width * (width + 1);
    // A rendered page compresses to about 1/25 of its pixels; 1/16 leaves room.
    let mut bits = BitWriter::with_capacity(filtered_len / 16 + 64);
    bits.put(u64::from(last) | 0b010, 3); // BFINAL, BTYPE = 01 (fixed Huffman)
    let mut sums = AdlerSums { a: 1, b: 0 };
    for row in pixels.chunks_exact(width) {
        let (code, len) = FIXED[1]; // the row's filter type: Sub
        bits.put(code as u64, len);
        sums.byte(1);
        deflate_row(row, &mut bits, &mut sums);
        sums.reduce();
    }
    bits.put(0, 7); // end of block (symbol 256, seven zero bits)
    if !last {
        bits.put(0, 3); // BFINAL = 0, BTYPE = 00 (stored), then LEN = 0, NLEN = !0
        bits.align();
        bits.bytes(&[0x00, 0x00, 0xFF, 0xFF]);
    }
    Stripe {
        bytes: bits.finish(),
        adler: Adler {
            checksum: sums.checksum(),
            len: filtered_len as u64,
        },
    }
}

/// The deflate symbols of one row's `Sub`-filtered bytes (pixel minus left neighbour, the
/// first pixel minus 0): runs of three or more zeros as copies, other bytes as literals.
/// The row is preceded by its filter type (1), so a run never reaches back into an earlier
/// row.
///
/// Eight pixels are compared with their left neighbours at once: the XOR of the two words
/// says where the zeros are, a byte-wise subtraction gives the filtered bytes. Text is
/// where the time goes (short runs between strokes), and a word per step keeps branches
/// few there.
fn deflate_row(row: &[u8], bits: &mut BitWriter, sums: &mut AdlerSums) {
    let word = |i: usize| u64::from_le_bytes(row[i..i + 8].try_into().unwrap());
    let mut p = 0;
    while p < row.len() {
        if p == 0 || p + 8 > row.len() {
            // The first pixel (its left neighbour is 0) and the last few: one at a time.
            let left = if p == 0 { 0 } else { row[p - 1] };
            let d = row[p].wrapping_sub(left);
            if d != 0 {
                bits.literals(u64::from(d), 1);
                sums.byte(d);
                p += 1;
            } else {
                let run = 1 + same_as_left(row, p + 1);
                zero_run(run, bits);
                sums.zeros(run);
                p += run;
            }
            continue;
        }
        let (here, left) = (word(p), word(p - 1));
        // Byte i is zero where pixel p + i equals its left neighbour. Little-endian: the
        // trailing zero bits are the first pixels in memory.
        let same = here ^ left;
        let zeros = (same.trailing_zeros() / 8) as usize;
        if zeros >= 3 {
            let run = if zeros == 8 {
                8 + same_as_left(row, p + 8)
            } else {
                zeros
            };
            zero_run(run, bits);
            sums.zeros(run);
            p += run;
            continue;
        }
        // Up to the last difference in the word; zeros after it may start a run.
        let take = 8 - (same.leading_zeros() / 8) as usize;
        let filtered = sub_bytes(here, left) & (u64::MAX >> (64 - 8 * take));
        bits.literal_word(filtered, take);
        sums.word(filtered, take);
        p += take;
    }
}

/// Byte-wise `a - b` (mod 256 in each byte) of two words, without borrows between bytes:
/// subtract with each byte's top bit set in `a` and cleared in `b`, so no byte borrows from
/// its neighbour, then put the true top bits back.
#[inline(always)]
fn sub_bytes(a: u64, b: u64) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    ((a | HIGH) - (b & !HIGH)) ^ ((a ^ !b) & HIGH)
}

/// How many pixels from `p` on (p ≥ 1) equal their left neighbour. The row is compared with
/// itself shifted by one. Blank paper is long such runs, text tens of thousands of short
/// ones, so both the scan and finding where a run ends must be cheap:
/// whole 64-byte blocks are tested with an XOR/OR fold that the compiler vectorises, then
/// 8-byte words, where the trailing zero bits of the XOR locate the first difference.
#[inline(always)]
fn same_as_left(row: &[u8], p: usize) -> usize {
    if p >= row.len() {
        return 0;
    }
    let (here, left) = (&row[p..], &row[p - 1..row.len() - 1]);
    // Little-endian, so the first byte in memory is the lowest byte of the word.
    let diff = |i: usize| {
        let word = |s: &[u8]| u64::from_le_bytes(s[i..i + 8].try_into().unwrap());
        word(here) ^ word(left)
    };
    let mut n = 0;
    while n + 64 <= here.len() {
        let h: &[u8; 64] = here[n..n + 64].try_into().unwrap();
        let l: &[u8; 64] = left[n..n + 64].try_into().unwrap();
        if h.iter().zip(l).fold(0, |acc, (x, y)| acc | (x ^ y)) != 0 {
            break;
        }
        n += 64;
    }
    // Then words, which also locate the first difference inside a block.
    while n + 8 <= here.len() {
        let d = diff(n);
        if d != 0 {
            return n + d.trailing_zeros() as usize / 8;
        }
        n += 8;
    }
    n + here[n..]
        .iter()
        .zip(&left[n..])
        .position(|(x, y)| x != y)
        .unwrap_or(here.len() - n)
}

/// Adler-32's two running sums, reduced once per row: between reductions a row of w bytes
/// adds at most 255·w to `a` and w·a to `b`, far inside a u64 for any page.
struct AdlerSums {
    a: u64,
    b: u64,
}

impl AdlerSums {
    #[inline(always)]
    fn byte(&mut self, v: u8) {
        self.a += u64::from(v);
        self.b += self.a;
    }

    /// The first `n` bytes of `bytes` (the others are zero): A grows by their sum S, and B
    /// by the A after each of them, n·A + Σ (n − i)·dᵢ = n·A + n·S − Σ i·dᵢ.
    ///
    /// Both sums come from two multiplications per half of the bytes: with the even (or
    /// odd) bytes in four 16-bit lanes, multiplying by a constant whose lanes are weights
    /// leaves Σ lane × weight in the top lane (no lane sum exceeds 16 bits, so nothing
    /// carries between lanes).
    #[inline(always)]
    fn word(&mut self, bytes: u64, n: usize) {
        const LANES: u64 = 0x00FF_00FF_00FF_00FF;
        const ONES: u64 = 0x0001_0001_0001_0001;
        // Lane j holds byte 2j (even) or 2j + 1 (odd); the top lane of x × M is
        // Σ_j x_j · m_(3−j), so the weights go in reverse lane order.
        const EVEN_INDEX: u64 = 0x0000_0002_0004_0006; // weights 0, 2, 4, 6 for lanes 0..3
        const ODD_INDEX: u64 = 0x0001_0003_0005_0007; // weights 1, 3, 5, 7
        let even = bytes & LANES;
        let odd = (bytes >> 8) & LANES;
        let top = |x: u64, m: u64| x.wrapping_mul(m) >> 48;
        let sum = top(even, ONES) + top(odd, ONES);
        let weighted = top(even, EVEN_INDEX) + top(odd, ODD_INDEX);
        let n = n as u64;
        self.b += n * self.a + n * sum - weighted;
        self.a += sum;
    }

    #[inline(always)]
    fn zeros(&mut self, k: usize) {
        self.b += k as u64 * self.a;
    }

    fn reduce(&mut self) {
        self.a %= Adler::MOD;
        self.b %= Adler::MOD;
    }

    fn checksum(&self) -> u32 {
        (((self.b % Adler::MOD) << 16) | (self.a % Adler::MOD)) as u32
    }
}

/// `run` zero bytes: a literal zero, then copies of it (distance 1) of at most 258 bytes;
/// fewer than three left over are literals, as a copy is at least three bytes long.
#[inline(always)]
fn zero_run(run: usize, bits: &mut BitWriter) {
    bits.literals(0, 1);
    let mut left = run - 1;
    while left >= 3 {
        let take = left.min(258);
        let (code, len) = LENGTHS[take - 3];
        // Distance code 0 (distance 1) is five zero bits after the length.
        bits.put(code as u64, len + 5);
        left -= take;
    }
    if left > 0 {
        bits.literals(0, left);
    }
}

/// Deflate's fixed literal/length code (RFC 1951, 3.2.6), bit-reversed for an LSB-first
/// stream: (code, length in bits) for symbols 0–287.
const FIXED: [(u16, u8); 288] = {
    let mut table = [(0u16, 0u8); 288];
    let mut sym = 0;
    while sym < 288 {
        let (base, first, len) = match sym {
            0..=143 => (0b0011_0000, 0, 8),
            144..=255 => (0b1_1001_0000, 144, 9),
            256..=279 => (0, 256, 7),
            _ => (0b1100_0000, 280, 8),
        };
        let code = (base + sym - first) as u16;
        table[sym] = (code.reverse_bits() >> (16 - len), len);
        sym += 1;
    }
    table
};

/// For a copy of 3–258 bytes (index: length − 3): its length symbol's code followed by the
/// symbol's extra bits, as one (bits, count) pair.
const LENGTHS: [(u32, u8); 256] = {
    // (first length, extra bits) of length symbols 257–285 (RFC 1951, 3.2.5)
    const BASES: [(usize, u8); 29] = [
        (3, 0),
        (4, 0),
        (5, 0),
        (6, 0),
        (7, 0),
        (8, 0),
        (9, 0),
        (10, 0),
        (11, 1),
        (13, 1),
        (15, 1),
        (17, 1),
        (19, 2),
        (23, 2),
        (27, 2),
        (31, 2),
        (35, 3),
        (43, 3),
        (51, 3),
        (59, 3),
        (67, 4),
        (83, 4),
        (99, 4),
        (115, 4),
        (131, 5),
        (163, 5),
        (195, 5),
        (227, 5),
        (258, 0),
    ];
    let mut table = [(0u32, 0u8); 256];
    let mut length = 3;
    while length <= 258 {
        let mut s = 28;
        while BASES[s].0 > length {
            s -= 1;
        }
        let (first, extra) = BASES[s];
        let (code, len) = FIXED[257 + s];
        let value = code as u32 | (((length - first) as u32) << len);
        table[length - 3] = (value, len + extra);
        length += 1;
    }
    table
};

/// Deflate's bit order: values are packed from the least significant bit of each byte.
///
/// Every `put` stores the whole 64-bit accumulator at the write position and then moves the
/// position by the number of complete bytes, so writing has no data-dependent branch. The
/// buffer starts at a typical page's size and doubles when a store could reach past it (a
/// zeroed buffer of the worst-case size would cost a memset of the whole image's size).
struct BitWriter {
    buf: Vec<u8>,
    pos: usize,
    acc: u64,
    /// Pending bits in `acc`; at most 7 between calls.
    count: u32,
}

impl BitWriter {
    fn with_capacity(bytes: usize) -> Self {
        BitWriter {
            buf: vec![0; bytes + 8],
            pos: 0,
            acc: 0,
            count: 0,
        }
    }

    /// Appends the low `n` (≤ 56) bits of `value`.
    #[inline(always)]
    fn put(&mut self, value: u64, n: u8) {
        self.acc |= value << self.count;
        self.count += u32::from(n);
        if self.pos + 8 > self.buf.len() {
            self.grow();
        }
        self.buf[self.pos..self.pos + 8].copy_from_slice(&self.acc.to_le_bytes());
        let whole = self.count / 8;
        self.pos += whole as usize;
        self.acc >>= 8 * whole;
        self.count -= 8 * whole;
    }

    /// Doubles the buffer (rare: it starts at a typical page's size).
    #[cold]
    fn grow(&mut self) {
        self.buf.resize(self.buf.len() * 2 + 64, 0);
    }

    /// Appends the first `n` (≤ 4) bytes of `bytes` (lowest first) as literals.
    #[inline(always)]
    fn literals(&mut self, bytes: u64, n: usize) {
        let (mut value, mut len) = (0u64, 0u8);
        for i in 0..n {
            let (code, bits) = FIXED[(bytes >> (8 * i)) as u8 as usize];
            value |= u64::from(code) << len;
            len += bits;
        }
        self.put(value, len);
    }

    /// Appends the first `n` (1–8) bytes of `bytes` (lowest first) as literals, without a
    /// branch on `n`: the codes of the bytes past `n` get length 0.
    #[inline(always)]
    fn literal_word(&mut self, bytes: u64, n: usize) {
        let mut halves = [(0u64, 0u8); 2];
        for (h, half) in halves.iter_mut().enumerate() {
            for i in 4 * h..4 * h + 4 {
                let (code, len) = FIXED[(bytes >> (8 * i)) as u8 as usize];
                let keep = u8::from(i < n);
                half.0 |= (u64::from(code) * u64::from(keep)) << half.1;
                half.1 += len * keep;
            }
        }
        self.put(halves[0].0, halves[0].1);
        self.put(halves[1].0, halves[1].1);
    }

    /// Pads with zero bits to a byte boundary.
    fn align(&mut self) {
        if self.count > 0 {
            self.put(0, (8 - self.count) as u8);
        }
    }

    /// Appends whole bytes; the writer must be aligned.
    fn bytes(&mut self, bytes: &[u8]) {
        debug_assert_eq!(self.count, 0);
        for &b in bytes {
            self.put(u64::from(b), 8);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.align();
        self.buf.truncate(self.pos);
        self.buf
    }
}

/// An Adler-32 checksum with the length of the data it covers, so that checksums of
/// consecutive pieces combine.
#[derive(Clone, Copy)]
struct Adler {
    checksum: u32,
    len: u64,
}

impl Adler {
    const MOD: u64 = 65_521;
    const EMPTY: Adler = Adler {
        checksum: 1,
        len: 0,
    };

    /// The checksum of this data followed by `next`'s. With A = 1 + Σ bytes and B = Σ of
    /// the running A after each byte (both mod 65521), appending n bytes whose own sums are
    /// A₂, B₂ gives A = A₁ + A₂ − 1 and B = B₁ + B₂ + n·(A₁ − 1).
    fn then(self, next: Adler) -> Adler {
        let m = Self::MOD;
        let (a1, b1) = (
            u64::from(self.checksum & 0xFFFF),
            u64::from(self.checksum >> 16),
        );
        let (a2, b2) = (
            u64::from(next.checksum & 0xFFFF),
            u64::from(next.checksum >> 16),
        );
        let a = (a1 + a2 + m - 1) % m;
        let b = (b1 + b2 + (next.len % m) * ((a1 + m - 1) % m)) % m;
        Adler {
            checksum: ((b << 16) | a) as u32,
            len: self.len + next.len,
        }
    }

    fn value(self) -> u32 {
        self.checksum
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Decodes with the png crate, checks the zlib stream and its Adler-32 with miniz_oxide,
    /// and returns the pixels and the DPI from `pHYs`.
    fn decode(png_bytes: &[u8]) -> (Vec<u8>, u32, u32, f32) {
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().expect("a valid PNG header");
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).expect("valid image data");
        let dims = reader.info().pixel_dims.expect("pHYs");
        buf.truncate(info.buffer_size());
        (
            buf,
            info.width,
            info.height,
            (dims.xppu as f64 * 0.0254) as f32,
        )
    }

    fn idat(png_bytes: &[u8]) -> Vec<u8> {
        let mut at = 8;
        let mut data = Vec::new();
        while at < png_bytes.len() {
            let len = u32::from_be_bytes(png_bytes[at..at + 4].try_into().unwrap()) as usize;
            let kind = &png_bytes[at + 4..at + 8];
            let body = &png_bytes[at + 8..at + 8 + len];
            let crc =
                u32::from_be_bytes(png_bytes[at + 8 + len..at + 12 + len].try_into().unwrap());
            assert_eq!(
                crc,
                crc32fast::hash(&png_bytes[at + 4..at + 8 + len]),
                "chunk CRC"
            );
            if kind == b"IDAT" {
                data.extend_from_slice(body);
            }
            at += 12 + len;
        }
        data
    }

    /// The image's rows with the `Sub` filter, each after its filter-type byte.
    fn sub_filtered(img: &GrayImage) -> Vec<u8> {
        let mut out = Vec::new();
        for row in img.as_raw().chunks_exact(img.width() as usize) {
            out.push(1);
            out.push(row[0]);
            out.extend(row.windows(2).map(|p| p[1].wrapping_sub(p[0])));
        }
        out
    }

    fn roundtrip(image: &GrayImage, threads: usize) {
        let bytes = encode(image, 300.0, threads);
        let (pixels, w, h, dpi) = decode(&bytes);
        assert_eq!((w, h), image.dimensions());
        assert_eq!(
            pixels,
            image.as_raw().as_slice(),
            "{w}x{h}, {threads} threads"
        );
        assert!((dpi - 300.0).abs() < 0.01, "dpi {dpi}");
        // miniz_oxide verifies the Adler-32 the png crate skips.
        let raw = miniz_oxide::inflate::decompress_to_vec_zlib(&idat(&bytes))
            .expect("a valid zlib stream with the right checksum");
        assert_eq!(raw.len(), (w as usize + 1) * h as usize);
    }

    fn page_like(w: u32, h: u32, seed: u64) -> GrayImage {
        // White with dark glyph-like blobs and anti-aliased edges.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut img = GrayImage::from_pixel(w, h, image::Luma([255]));
        for _ in 0..(w * h / 400).max(1) {
            let (x, y) = (rng.random_range(0..w), rng.random_range(0..h));
            let len = rng.random_range(1..40);
            for dx in 0..len.min(w - x) {
                img.put_pixel(x + dx, y, image::Luma([rng.random_range(0..=255)]));
            }
        }
        img
    }

    #[test]
    fn pages_noise_and_edge_shapes_decode_to_the_same_pixels() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let noise = GrayImage::from_fn(333, 97, |_, _| image::Luma([rng.random()]));
        let black = GrayImage::from_pixel(700, 300, image::Luma([0]));
        let white = GrayImage::from_pixel(1000, 1100, image::Luma([255]));
        for threads in [1, 2, 3, 8] {
            roundtrip(&page_like(1240, 1754, 2), threads);
            roundtrip(&noise, threads);
            roundtrip(&black, threads);
            roundtrip(&white, threads);
            for (w, h) in [
                (1, 1),
                (1, 9),
                (2, 3),
                (7, 1),
                (8, 8),
                (9, 5),
                (259, 2),
                (517, 3),
            ] {
                roundtrip(&page_like(w, h, u64::from(w * h)), threads);
                roundtrip(&GrayImage::from_pixel(w, h, image::Luma([0])), threads);
            }
        }
    }

    #[test]
    fn every_run_length_round_trips() {
        // Zero runs of every length up to a few copies long, between non-zero bytes.
        for run in 0..800u32 {
            let w = run + 3;
            let img = GrayImage::from_fn(w, 2, |x, y| {
                let edge = x == 0 || x == w - 1 || (y == 1 && x == w / 2);
                image::Luma([if edge { 9 } else { 200 }])
            });
            roundtrip(&img, 1);
        }
    }

    #[test]
    fn any_number_of_stripes_gives_the_filtered_rows_back() {
        // Small images never get stripes from `encode`, so force them here: every stripe
        // count up to one per row must inflate (checksum included) to the Sub-filtered rows.
        for (w, h, seed) in [(1usize, 5usize, 1u64), (9, 7, 2), (70, 11, 3), (300, 13, 4)] {
            let img = page_like(w as u32, h as u32, seed);
            let expected = sub_filtered(&img);
            for stripes in 1..=h {
                let zlib = zlib_stream(img.as_raw(), w, h, stripes);
                let raw = miniz_oxide::inflate::decompress_to_vec_zlib(&zlib)
                    .unwrap_or_else(|e| panic!("{w}x{h} in {stripes} stripes: {e:?}"));
                assert_eq!(raw, expected, "{w}x{h} in {stripes} stripes");
            }
        }
    }

    #[test]
    fn random_images_in_random_stripes_round_trip() {
        // Mixtures of runs (of every length, of any value) and noise, the cases a page's
        // text edges produce, at sizes around the 8- and 64-byte steps of the scanner.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
        for _ in 0..300 {
            let (w, h) = (rng.random_range(1..200usize), rng.random_range(1..12usize));
            let mut pixels = Vec::with_capacity(w * h);
            while pixels.len() < w * h {
                let value: u8 = rng.random();
                let run = if rng.random_bool(0.5) {
                    rng.random_range(1..4)
                } else {
                    rng.random_range(1..150)
                };
                pixels.extend(std::iter::repeat_n(value, run.min(w * h - pixels.len())));
            }
            let img = GrayImage::from_raw(w as u32, h as u32, pixels).unwrap();
            let stripes = rng.random_range(1..=h);
            let zlib = zlib_stream(img.as_raw(), w, h, stripes);
            let raw = miniz_oxide::inflate::decompress_to_vec_zlib(&zlib)
                .unwrap_or_else(|e| panic!("{w}x{h} in {stripes} stripes: {e:?}"));
            let expected = sub_filtered(&img);
            assert_eq!(raw, expected, "{w}x{h} in {stripes} stripes");
        }
    }

    #[test]
    fn a_stream_longer_than_a_chunk_is_split_into_several_idat_chunks() {
        let page = page_like(400, 300, 9);
        let whole = encode(&page, 300.0, 1);
        let split = encode_in_chunks(&page, 300.0, 1, 100);
        assert!(split.len() > whole.len() + 12 * 10, "several IDAT chunks");
        assert_eq!(idat(&split), idat(&whole), "the same zlib stream");
        assert_eq!(decode(&split).0, page.as_raw().as_slice());
    }

    #[test]
    fn large_pages_are_split_into_stripes_and_small_ones_are_not() {
        assert_eq!(stripe_count(2480, 3508, 4), 4);
        assert_eq!(stripe_count(2480, 3508, 1), 1);
        assert_eq!(stripe_count(300, 300, 8), 1);
        assert_eq!(stripe_count(10, 3, 8), 1);
        assert_eq!(
            stripe_count(1_000_000, 3, 8),
            3,
            "never more stripes than rows"
        );
        assert!(stripe_count(2480, 3508, 0) >= 1);
    }

    #[test]
    fn combined_adler_equals_the_one_pass_checksum() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        // Adler-32 by its definition, one byte at a time.
        let one = |d: &[u8]| {
            let (mut a, mut b) = (1u32, 0u32);
            for &x in d {
                a = (a + u32::from(x)) % 65_521;
                b = (b + a) % 65_521;
            }
            Adler {
                checksum: (b << 16) | a,
                len: d.len() as u64,
            }
        };
        for cut in [0, 1, 5552, 65_521, 131_042, 199_999, 200_000] {
            let (x, y) = data.split_at(cut);
            let combined = Adler::EMPTY.then(one(x)).then(one(y));
            assert_eq!(combined.value(), one(&data).value(), "cut at {cut}");
        }
    }

    #[test]
    fn the_same_page_gives_the_same_bytes_on_any_number_of_threads_but_stripes() {
        // Stripes change the bitstream (block boundaries), never the pixels; one thread is
        // deterministic.
        let page = page_like(1240, 1754, 5);
        assert_eq!(encode(&page, 150.0, 1), encode(&page, 150.0, 1));
        let (a, ..) = decode(&encode(&page, 150.0, 1));
        let (b, ..) = decode(&encode(&page, 150.0, 4));
        assert_eq!(a, b);
    }
}
