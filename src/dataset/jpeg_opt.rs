//! Lossless JPEG size reduction: re-encodes a baseline greyscale JPEG's entropy-coded data
//! with Huffman tables built for that image (what `jpegtran -optimize` does). The `image`
//! crate's encoder writes the standard tables of the JPEG specification's Annex K; tables
//! fitted to a page of text save 15–20 %, which keeps the bundled variant images small.
//! The coefficients are untouched, so the decoded pixels are identical.

/// Re-encodes `jpeg` with optimal Huffman tables. `None` when the file is not a
/// single-component baseline JPEG without restart markers (the only kind written here),
/// or is malformed; callers then keep the original bytes.
pub fn optimize(jpeg: &[u8]) -> Option<Vec<u8>> {
    let header = Header::parse(jpeg)?;
    let dc = header.tables[header.scan_tables.0].as_ref()?;
    let ac = header.tables[header.scan_tables.1].as_ref()?;
    let blocks = header.width.div_ceil(8) * header.height.div_ceil(8);
    let scan = Scan::decode(&jpeg[header.scan_start..], blocks, dc, ac)?;
    scan.encode(header.head, header.component)
}

/// What precedes the entropy-coded data of a baseline greyscale JPEG.
struct Header {
    /// SOI and every segment to keep (all but DHT and SOS), as in the file.
    head: Vec<u8>,
    /// Huffman tables by slot: class × 4 + id (DC 0–3, AC 4–7).
    tables: [Option<Table>; 8],
    width: usize,
    height: usize,
    /// The frame's component id.
    component: u8,
    /// The scan's (DC, AC) table slots.
    scan_tables: (usize, usize),
    /// Where the entropy-coded data starts.
    scan_start: usize,
}

impl Header {
    /// Reads the segments up to SOS; `None` for anything but one baseline component
    /// sampled 1×1, or a malformed file.
    fn parse(jpeg: &[u8]) -> Option<Header> {
        let mut pos = 2;
        if jpeg.get(..2)? != [0xFF, 0xD8] {
            return None;
        }
        let mut head: Vec<u8> = vec![0xFF, 0xD8];
        let mut tables: [Option<Table>; 8] = Default::default();
        let (mut width, mut height) = (0usize, 0usize);
        let mut component = 1u8;
        let scan_tables = loop {
            if jpeg.get(pos)? != &0xFF {
                return None;
            }
            let marker = *jpeg.get(pos + 1)?;
            let len = usize::from(u16::from_be_bytes([
                *jpeg.get(pos + 2)?,
                *jpeg.get(pos + 3)?,
            ]));
            let body = jpeg.get(pos + 4..pos + 2 + len)?;
            match marker {
                // SOF0 only: progressive, arithmetic or multi-component frames are left alone.
                0xC0 => {
                    if body.len() < 9 || body[5] != 1 || body[0] != 8 {
                        return None;
                    }
                    height = usize::from(u16::from_be_bytes([body[1], body[2]]));
                    width = usize::from(u16::from_be_bytes([body[3], body[4]]));
                    // Sampling factors must be 1×1 for one block per MCU.
                    if body[7] != 0x11 {
                        return None;
                    }
                    component = body[6];
                    head.extend_from_slice(&jpeg[pos..pos + 2 + len]);
                }
                0xC1..=0xC3 | 0xC5..=0xCF | 0xDD => return None,
                0xC4 => read_tables(body, &mut tables)?,
                0xDA => {
                    if body.first() != Some(&1) || body.len() < 6 {
                        return None;
                    }
                    let t = body[2];
                    pos += 2 + len;
                    break (usize::from(t >> 4), 4 + usize::from(t & 15));
                }
                _ => head.extend_from_slice(&jpeg[pos..pos + 2 + len]),
            }
            pos += 2 + len;
        };
        Some(Header {
            head,
            tables,
            width,
            height,
            component,
            scan_tables,
            scan_start: pos,
        })
    }
}

/// The Huffman tables of one DHT segment's body, into their slots.
fn read_tables(mut b: &[u8], tables: &mut [Option<Table>; 8]) -> Option<()> {
    while !b.is_empty() {
        let class_id = b[0];
        let counts: [u8; 16] = b.get(1..17)?.try_into().ok()?;
        let n: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let values = b.get(17..17 + n)?.to_vec();
        let slot = usize::from(class_id >> 4) * 4 + usize::from(class_id & 3);
        tables[slot] = Some(Table::new(&counts, values));
        b = &b[17 + n..];
    }
    Some(())
}

/// The decoded symbols of a scan, with their extra bits, and how often each occurs.
struct Scan {
    /// (is AC, symbol, extra bits), in file order.
    symbols: Vec<(bool, u8, u16)>,
    freq_dc: [u32; 257],
    freq_ac: [u32; 257],
}

impl Scan {
    /// Decodes the symbols (with their extra bits) of every block.
    fn decode(data: &[u8], blocks: usize, dc: &Table, ac: &Table) -> Option<Scan> {
        let mut reader = BitReader::new(data);
        let mut symbols: Vec<(bool, u8, u16)> = Vec::with_capacity(blocks * 8);
        let mut freq_dc = [0u32; 257];
        let mut freq_ac = [0u32; 257];
        for _ in 0..blocks {
            let s = dc.decode(&mut reader)?;
            let extra = reader.bits(s & 15)?;
            symbols.push((false, s, extra));
            freq_dc[usize::from(s)] += 1;
            let mut k = 1;
            while k < 64 {
                let rs = ac.decode(&mut reader)?;
                let size = rs & 15;
                let extra = reader.bits(size)?;
                symbols.push((true, rs, extra));
                freq_ac[usize::from(rs)] += 1;
                match rs {
                    0x00 => break,
                    0xF0 => k += 16,
                    _ => k += usize::from(rs >> 4) + 1,
                }
            }
            if k > 64 {
                return None;
            }
        }
        Some(Scan {
            symbols,
            freq_dc,
            freq_ac,
        })
    }

    /// `head`, then a DHT of tables fitted to the symbols, the SOS and the re-encoded
    /// data, then EOI.
    fn encode(self, head: Vec<u8>, component: u8) -> Option<Vec<u8>> {
        let (dc_counts, dc_values) = optimal_table(&self.freq_dc);
        let (ac_counts, ac_values) = optimal_table(&self.freq_ac);
        let dc_new = Table::new(&dc_counts, dc_values.clone());
        let ac_new = Table::new(&ac_counts, ac_values.clone());

        let mut out = head;
        let mut dht = Vec::new();
        for (class_id, counts, values) in [
            (0x00u8, &dc_counts, &dc_values),
            (0x10, &ac_counts, &ac_values),
        ] {
            dht.push(class_id);
            dht.extend_from_slice(counts);
            dht.extend_from_slice(values);
        }
        out.extend_from_slice(&[0xFF, 0xC4]);
        out.extend_from_slice(&((dht.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&dht);
        // SOS: the one component with tables 0/0, spectral selection 0–63, no approximation.
        out.extend_from_slice(&[
            0xFF, 0xDA, 0x00, 0x08, 0x01, component, 0x00, 0x00, 0x3F, 0x00,
        ]);
        let mut writer = BitWriter::default();
        for (is_ac, s, extra) in self.symbols {
            let table = if is_ac { &ac_new } else { &dc_new };
            let (code, len) = table.codes[usize::from(s)]?;
            writer.put(u32::from(code), len);
            writer.put(u32::from(extra), s & 15);
        }
        out.extend_from_slice(&writer.finish());
        out.extend_from_slice(&[0xFF, 0xD9]);
        Some(out)
    }
}

/// A Huffman table: canonical codes per symbol, and the decoder's per-length ranges.
struct Table {
    codes: Vec<Option<(u16, u8)>>,
    values: Vec<u8>,
    /// Per code length 1–16: smallest code, largest code (−1 when none), index of its
    /// first value (the JPEG specification's MINCODE, MAXCODE, VALPTR).
    min_code: [i32; 17],
    max_code: [i32; 17],
    val_ptr: [usize; 17],
}

impl Table {
    fn new(counts: &[u8; 16], values: Vec<u8>) -> Table {
        let mut codes = vec![None; 256];
        let mut min_code = [0i32; 17];
        let mut max_code = [-1i32; 17];
        let mut val_ptr = [0usize; 17];
        let mut code: i32 = 0;
        let mut k = 0;
        for (i, &n) in counts.iter().enumerate() {
            let len = i + 1;
            if n > 0 {
                val_ptr[len] = k;
                min_code[len] = code;
                max_code[len] = code + i32::from(n) - 1;
            }
            for _ in 0..n {
                if let Some(&v) = values.get(k) {
                    codes[usize::from(v)] = Some((code as u16, len as u8));
                }
                code += 1;
                k += 1;
            }
            code <<= 1;
        }
        Table {
            codes,
            values,
            min_code,
            max_code,
            val_ptr,
        }
    }

    fn decode(&self, r: &mut BitReader<'_>) -> Option<u8> {
        let mut code = 0i32;
        for len in 1..=16 {
            code = (code << 1) | i32::from(r.bits(1)?);
            if code <= self.max_code[len] {
                let k = self.val_ptr[len] + (code - self.min_code[len]) as usize;
                return self.values.get(k).copied();
            }
        }
        None
    }
}

/// Code lengths limited to 16 bits for the symbols' frequencies (JPEG Annex K.2), as the
/// DHT segment's counts and symbol order.
fn optimal_table(freq: &[u32; 257]) -> ([u8; 16], Vec<u8>) {
    let mut freq: Vec<u64> = freq.iter().map(|&f| u64::from(f)).collect();
    // A reserved symbol keeps any code from being all ones.
    freq[256] = 1;
    let mut size = [0usize; 257];
    let mut others = [usize::MAX; 257];
    loop {
        let least = |skip: Option<usize>| {
            (0..257)
                .filter(|&i| freq[i] > 0 && Some(i) != skip)
                .min_by_key(|&i| (freq[i], std::cmp::Reverse(i)))
        };
        let Some(c1) = least(None) else { break };
        let Some(c2) = least(Some(c1)) else { break };
        freq[c1] += freq[c2];
        freq[c2] = 0;
        let mut c = c1;
        size[c] += 1;
        while others[c] != usize::MAX {
            c = others[c];
            size[c] += 1;
        }
        others[c] = c2;
        let mut c = c2;
        size[c] += 1;
        while others[c] != usize::MAX {
            c = others[c];
            size[c] += 1;
        }
    }
    let mut bits = [0usize; 33];
    for &s in size.iter() {
        if s > 0 {
            bits[s.min(32)] += 1;
        }
    }
    // Limit lengths to 16 (Annex K, Figure K.3).
    let mut i = 32;
    while i > 16 {
        while bits[i] > 0 {
            let mut j = i - 2;
            while bits[j] == 0 {
                j -= 1;
            }
            bits[i] -= 2;
            bits[i - 1] += 1;
            bits[j + 1] += 2;
            bits[j] -= 1;
        }
        i -= 1;
    }
    // Remove the reserved symbol's code (the longest).
    let mut i = 16;
    while bits[i] == 0 {
        i -= 1;
    }
    bits[i] -= 1;
    let mut counts = [0u8; 16];
    for (k, c) in counts.iter_mut().enumerate() {
        *c = bits[k + 1] as u8;
    }
    // Symbols by code length, then by value (the reserved one is dropped).
    let mut values: Vec<u8> = Vec::new();
    for len in 1..=32 {
        for (sym, &s) in size.iter().enumerate().take(256) {
            if s == len {
                values.push(sym as u8);
            }
        }
    }
    (counts, values)
}

/// Reads the entropy-coded segment MSB first, removing the stuffed zero after `FF`.
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u32,
    n: u8,
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8]) -> BitReader<'a> {
        BitReader {
            data,
            pos: 0,
            acc: 0,
            n: 0,
        }
    }

    fn bits(&mut self, count: u8) -> Option<u16> {
        while self.n < count {
            let b = *self.data.get(self.pos)?;
            if b == 0xFF {
                match self.data.get(self.pos + 1)? {
                    0x00 => self.pos += 2,
                    // A marker: no more entropy-coded data.
                    _ => return None,
                }
            } else {
                self.pos += 1;
            }
            self.acc = (self.acc << 8) | u32::from(b);
            self.n += 8;
        }
        self.n -= count;
        let v = (self.acc >> self.n) & ((1u32 << count) - 1);
        Some(v as u16)
    }
}

/// Writes bits MSB first, stuffing a zero after every `FF`, padding the end with ones.
#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u32,
    n: u8,
}

impl BitWriter {
    fn put(&mut self, value: u32, count: u8) {
        if count == 0 {
            return;
        }
        self.acc = (self.acc << count) | (value & ((1u32 << count) - 1));
        self.n += count;
        while self.n >= 8 {
            self.n -= 8;
            let b = (self.acc >> self.n) as u8;
            self.out.push(b);
            if b == 0xFF {
                self.out.push(0);
            }
        }
        self.acc &= (1u32 << self.n) - 1;
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            let pad = 8 - self.n;
            self.put((1u32 << pad) - 1, pad);
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> image::GrayImage {
        // Text-like strokes and grey shading, plus a little noise.
        let mut state = 7u32;
        image::GrayImage::from_fn(203, 157, |x, y| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let ink = (x / 3 + y / 5) % 7 == 0 && y % 20 < 12;
            let base = if ink {
                30
            } else if x > 150 {
                225
            } else {
                250
            };
            image::Luma([base - (state >> 29) as u8])
        })
    }

    #[test]
    fn optimised_jpeg_decodes_to_the_same_pixels_and_is_smaller() {
        for quality in [55u8, 75, 90] {
            let jpeg = crate::dataset::synth::encode_jpeg(&page(), quality, 300.0).unwrap();
            let small = optimize(&jpeg).expect("a baseline grey JPEG");
            assert!(
                small.len() < jpeg.len(),
                "{} vs {}",
                small.len(),
                jpeg.len()
            );
            let a = image::load_from_memory(&jpeg).unwrap().into_luma8();
            let b = image::load_from_memory(&small).unwrap().into_luma8();
            assert_eq!(a, b, "quality {quality}");
            // The JFIF density (DPI) survives.
            assert_eq!(&small[..20], &jpeg[..20]);
        }
    }

    #[test]
    fn other_files_are_left_alone() {
        assert!(optimize(b"not a jpeg").is_none());
        assert!(optimize(&[0xFF, 0xD8, 0xFF]).is_none());
    }

    #[test]
    fn code_lengths_are_at_most_16_bits() {
        // Fibonacci-like frequencies force long codes before limiting.
        let mut freq = [0u32; 257];
        let (mut a, mut b) = (1u32, 1u32);
        for f in freq.iter_mut().take(40) {
            *f = a;
            let c = a.saturating_add(b);
            a = b;
            b = c;
        }
        let (counts, values) = optimal_table(&freq);
        assert_eq!(values.len(), 40);
        assert_eq!(counts.iter().map(|&c| usize::from(c)).sum::<usize>(), 40);
        // Kraft: the code is complete minus the reserved all-ones word.
        let kraft: f64 = counts
            .iter()
            .enumerate()
            .map(|(i, &c)| f64::from(c) / 2f64.powi(i as i32 + 1))
            .sum();
        assert!(kraft < 1.0 && kraft > 0.99, "{kraft}");
    }
}
