//! The bytes of the simulator's documents: deterministic, described by a few small
//! segments and generated on read, so no file body (not even the large document's
//! hundreds of MiB) is ever held in memory or behind the state mutex.
//!
//! A [`Blob`] is a list of segments: literal bytes (a PDF's objects and trailer, a ZIP
//! header), text lines, or pseudo-random bytes. Any byte range of it can be produced
//! without producing what comes before.
//!
//! A text line is 64 bytes: a 16-byte tag, then the line number (0-based) written
//! three times as 15 decimal digits, separated by `|`, and a line feed:
//! `large v1        000000000000042|000000000000042|000000000000042\n`. The large
//! document is nothing but such lines with the tag `large v1`, so a test can check any
//! range of it without the simulator's help.

use bytes::Bytes;

/// The length of one text line.
pub(crate) const LINE: u64 = 64;

/// A document version's bytes, described rather than stored.
#[derive(Debug, Clone)]
pub(crate) struct Blob {
    segments: Vec<Segment>,
    len: u64,
}

#[derive(Debug, Clone)]
enum Segment {
    /// Bytes as they are.
    Literal(Bytes),
    /// `len` bytes of text lines tagged `tag`; with `comment`, each line starts with
    /// `%` (a PDF comment).
    Lines {
        len: u64,
        tag: [u8; 16],
        comment: bool,
    },
    /// `len` pseudo-random bytes from `seed`.
    Random { len: u64, seed: u64 },
}

impl Segment {
    fn len(&self) -> u64 {
        match self {
            Self::Literal(b) => b.len() as u64,
            Self::Lines { len, .. } | Self::Random { len, .. } => *len,
        }
    }

    /// Fills `out` with this segment's bytes from `offset`.
    fn read(&self, offset: u64, out: &mut [u8]) {
        match self {
            Self::Literal(b) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX);
                out.copy_from_slice(&b[start..start + out.len()]);
            }
            Self::Lines { tag, comment, .. } => {
                let mut at = offset;
                let mut written = 0;
                while written < out.len() {
                    let line = text_line(at / LINE, tag, *comment);
                    let within = usize::try_from(at % LINE).unwrap_or(0);
                    let n = (line.len() - within).min(out.len() - written);
                    out[written..written + n].copy_from_slice(&line[within..within + n]);
                    written += n;
                    at += n as u64;
                }
            }
            Self::Random { seed, .. } => {
                let mut at = offset;
                let mut written = 0;
                while written < out.len() {
                    let word = splitmix(seed ^ (at / 8)).to_le_bytes();
                    let within = usize::try_from(at % 8).unwrap_or(0);
                    let n = (8 - within).min(out.len() - written);
                    out[written..written + n].copy_from_slice(&word[within..within + n]);
                    written += n;
                    at += n as u64;
                }
            }
        }
    }
}

impl Blob {
    /// Its length in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The bytes at `offset..offset + len`, clipped to the blob.
    pub(crate) fn read(&self, offset: u64, len: usize) -> Bytes {
        let end = offset.saturating_add(len as u64).min(self.len);
        let size = usize::try_from(end.saturating_sub(offset)).unwrap_or(0);
        let mut out = vec![0u8; size];
        let mut seg_start = 0u64;
        let mut written = 0usize;
        for segment in &self.segments {
            let seg_end = seg_start + segment.len();
            let at = offset + written as u64;
            if written < size && at < seg_end && at >= seg_start {
                let n = usize::try_from((seg_end - at).min((size - written) as u64)).unwrap_or(0);
                segment.read(at - seg_start, &mut out[written..written + n]);
                written += n;
            }
            seg_start = seg_end;
        }
        Bytes::from(out)
    }

    fn new(segments: Vec<Segment>) -> Self {
        let len = segments.iter().map(Segment::len).sum();
        Self { segments, len }
    }

    /// A plain-text file of `size` bytes: a heading line, then text lines.
    pub(crate) fn text(heading: &str, tag: &str, size: u64) -> Self {
        let head = Bytes::from(format!("{heading}\r\n").into_bytes());
        let rest = size.saturating_sub(head.len() as u64);
        Self::new(vec![
            Segment::Literal(head),
            Segment::Lines {
                len: rest,
                tag: tag16(tag),
                comment: false,
            },
        ])
    }

    /// The text lines of the large document: `size` bytes of lines tagged `tag`.
    pub(crate) fn lines(tag: &str, size: u64) -> Self {
        Self::new(vec![Segment::Lines {
            len: size,
            tag: tag16(tag),
            comment: false,
        }])
    }

    /// A ZIP-like file (what `.docx` and `.xlsx` are) of `size` bytes: a local file
    /// header, then pseudo-random bytes. Not a valid archive; any bytes do here.
    pub(crate) fn zipish(seed: u64, size: u64) -> Self {
        let head = Bytes::from_static(b"PK\x03\x04\x14\x00\x06\x00\x08\x00");
        let rest = size.saturating_sub(head.len() as u64);
        Self::new(vec![
            Segment::Literal(head),
            Segment::Random {
                len: rest,
                seed: splitmix(seed),
            },
        ])
    }

    /// A real, minimal one-page PDF showing `title`, padded with comment lines to
    /// `size` bytes (or larger, if `size` cannot hold the PDF itself), with a correct
    /// cross-reference table.
    pub(crate) fn pdf(title: &str, tag: &str, size: u64) -> Self {
        let text: String = title
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == ' ' || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let stream = format!("BT /F1 18 Tf 72 720 Td ({text}) Tj ET");
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>".to_owned(),
            format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
        ];
        let mut head = String::from("%PDF-1.4\n");
        let mut offsets = Vec::new();
        for (i, object) in objects.iter().enumerate() {
            offsets.push(head.len());
            head.push_str(&format!("{} 0 obj\n{object}\nendobj\n", i + 1));
        }
        let tail = |xref_at: u64| {
            let mut t = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
            for o in &offsets {
                t.push_str(&format!("{o:010} 00000 n \n"));
            }
            t.push_str(&format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n",
                objects.len() + 1
            ));
            t
        };
        // The tail's length depends on the digits of its own offset: settle it.
        let fixed = head.len() as u64 + tail(0).len() as u64;
        let mut pad = size.saturating_sub(fixed);
        for _ in 0..3 {
            let t = tail(head.len() as u64 + pad).len() as u64;
            pad = size.saturating_sub(head.len() as u64 + t);
        }
        let tail = tail(head.len() as u64 + pad);
        Self::new(vec![
            Segment::Literal(Bytes::from(head.into_bytes())),
            Segment::Lines {
                len: pad,
                tag: tag16(tag),
                comment: true,
            },
            Segment::Literal(Bytes::from(tail.into_bytes())),
        ])
    }
}

/// One 64-byte text line: see the module documentation.
pub(crate) fn text_line(n: u64, tag: &[u8; 16], comment: bool) -> [u8; 64] {
    let mut line = [b'|'; 64];
    line[..16].copy_from_slice(tag);
    let mut digits = [b'0'; 15];
    let mut v = n;
    for d in digits.iter_mut().rev() {
        *d = b'0' + u8::try_from(v % 10).unwrap_or(0);
        v /= 10;
    }
    for k in 0..3 {
        line[16 + k * 16..16 + k * 16 + 15].copy_from_slice(&digits);
    }
    line[63] = b'\n';
    if comment {
        line[0] = b'%';
    }
    line
}

/// `tag` as 16 bytes: cut or padded with blanks.
pub(crate) fn tag16(tag: &str) -> [u8; 16] {
    let mut out = [b' '; 16];
    for (o, b) in out.iter_mut().zip(tag.bytes().filter(u8::is_ascii)) {
        *o = b;
    }
    out
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(blob: &Blob) -> Vec<u8> {
        blob.read(0, usize::try_from(blob.len()).unwrap()).to_vec()
    }

    #[test]
    fn any_range_equals_the_same_bytes_of_the_whole() {
        for blob in [
            Blob::pdf("Articles of incorporation", "00016801 v1", 5_000),
            Blob::zipish(7, 3_001),
            Blob::text("Memo", "00014603 v1", 2_345),
        ] {
            let all = whole(&blob);
            assert_eq!(all.len() as u64, blob.len());
            for (start, len) in [(0, 1), (3, 70), (63, 2), (1000, 999), (2300, 500)] {
                let got = blob.read(start, len);
                let end = (start as usize + len).min(all.len());
                assert_eq!(&got[..], &all[start as usize..end], "{start}+{len}");
            }
        }
    }

    #[test]
    fn a_pdf_has_its_size_and_a_cross_reference_that_points_at_its_objects() {
        let blob = Blob::pdf("Smith & Jones", "00016702 v1", 120_115);
        assert_eq!(blob.len(), 120_115);
        let text = String::from_utf8(whole(&blob)).unwrap();
        assert!(text.starts_with("%PDF-1.4\n"));
        assert!(text.ends_with("%%EOF\n"));
        let startxref: usize = text
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(text[startxref..].starts_with("xref\n"));
        let entry = text[startxref..].lines().nth(3).unwrap();
        let first: usize = entry[..10].parse().unwrap();
        assert!(text[first..].starts_with("1 0 obj"), "{entry}");
    }

    #[test]
    fn lines_follow_the_documented_formula() {
        let blob = Blob::lines("large v1", 64 * 100);
        let line = blob.read(42 * 64, 64);
        assert_eq!(
            &line[..],
            b"large v1        000000000000042|000000000000042|000000000000042\n"
        );
    }
}
