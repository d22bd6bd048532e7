//! Post pages: posts stored together under one sled key, the first one's sequence number,
//! one JSON record per line.
//!
//! sled's cost is per insert, not per byte: in the ingest benchmark a post's own insert was
//! about a seventh of the pipeline's CPU, however small its record. So the posts of one commit
//! go into pages of a few consecutive posts each, and a post's record is line `seq - first`
//! of the page whose first sequence number is the greatest not above `seq`.
//!
//! A store written before pages existed holds one record per key, which is a page of one line
//! (compact JSON has no raw line breaks), so it needs no conversion.

/// A page is closed when the next record would take it past this many bytes (a record bigger
/// than that gets a page of its own). sled keeps up to 17 entries in a leaf and writes any
/// item over 128 KiB of its log to a blob file of its own, so 17 full pages must stay under
/// that.
pub(super) const PAGE_BYTES: usize = 6 * 1024;

/// The records of a page, in order.
pub(super) fn lines(page: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    page.split(|&b| b == b'\n')
}

/// How many records a page holds.
pub(super) fn count(page: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', page).count() as u64 + 1
}

/// Record `index` of a page, if the page is that long.
pub(super) fn line(page: &[u8], index: u64) -> Option<&[u8]> {
    let mut start = 0;
    for _ in 0..index {
        start += memchr::memchr(b'\n', &page[start..])? + 1;
    }
    let end = memchr::memchr(b'\n', &page[start..]).map_or(page.len(), |end| start + end);
    Some(&page[start..end])
}

/// The page with record `index` replaced by `record` (`index` is within the page).
pub(super) fn replace(page: &[u8], index: u64, record: &[u8]) -> Vec<u8> {
    let old = line(page, index).expect("the caller checked the page holds the record");
    let start = old.as_ptr() as usize - page.as_ptr() as usize;
    let end = start + old.len();
    let mut out = Vec::with_capacity(page.len() - old.len() + record.len());
    out.extend_from_slice(&page[..start]);
    out.extend_from_slice(record);
    out.extend_from_slice(&page[end..]);
    out
}

/// Records in order of sequence number, cut into pages: a page holds consecutive numbers only,
/// and at most [`PAGE_BYTES`] unless one record is bigger. Returns each page's first number
/// with its bytes.
pub(super) fn paginate(records: impl IntoIterator<Item = (u64, Vec<u8>)>) -> Vec<(u64, Vec<u8>)> {
    let mut pages: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut next = None;
    for (seq, record) in records {
        match pages.last_mut() {
            Some((_, page)) if next == Some(seq) && page.len() + 1 + record.len() <= PAGE_BYTES => {
                page.push(b'\n');
                page.extend_from_slice(&record);
            }
            _ => pages.push((seq, record)),
        }
        next = Some(seq + 1);
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, len: usize) -> (u64, Vec<u8>) {
        let mut r = format!("{{\"seq\":{seq}}}").into_bytes();
        r.resize(len.max(r.len()), b' ');
        (seq, r)
    }

    #[test]
    fn pages_hold_consecutive_records_up_to_the_size_limit() {
        let records = (1..=20).map(|seq| record(seq, 1000)).chain([
            record(22, 10),
            record(23, PAGE_BYTES * 2),
            record(24, 10),
        ]);
        let pages = paginate(records);
        let shape: Vec<(u64, u64)> = pages.iter().map(|(f, p)| (*f, count(p))).collect();
        // Six records of 1000 bytes fill a page; 22 does not follow 20; 23 is too big to share.
        assert_eq!(
            shape,
            [(1, 6), (7, 6), (13, 6), (19, 2), (22, 1), (23, 1), (24, 1)]
        );
        for (first, page) in &pages {
            assert!(page.len() <= PAGE_BYTES || count(page) == 1);
            for (i, line) in lines(page).enumerate() {
                assert!(line.starts_with(format!("{{\"seq\":{}}}", first + i as u64).as_bytes()));
                assert_eq!(super::line(page, i as u64), Some(line));
            }
            assert_eq!(super::line(page, count(page)), None);
        }
    }

    #[test]
    fn a_record_is_replaced_in_place() {
        let page = b"{\"seq\":5}\n{\"seq\":6}\n{\"seq\":7}".to_vec();
        assert_eq!(
            replace(&page, 1, b"{\"seq\":6,\"x\":1}"),
            b"{\"seq\":5}\n{\"seq\":6,\"x\":1}\n{\"seq\":7}"
        );
        assert_eq!(
            replace(&page, 2, b"7"),
            b"{\"seq\":5}\n{\"seq\":6}\n7".to_vec()
        );
        assert_eq!(replace(b"one", 0, b"two"), b"two");
    }
}
