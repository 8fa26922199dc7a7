use super::package;
use crate::bytes::Endian;
use crate::{read_bdb, DbKind, Limits, RpmError};

const PS: usize = 512;

/// Builds a small Berkeley DB hash file page by page.
struct Builder {
    endian: Endian,
    pages: Vec<Vec<u8>>,
}

impl Builder {
    fn new(endian: Endian) -> Self {
        Builder {
            endian,
            pages: vec![vec![0; PS]],
        }
    }

    fn put32(&self, page: &mut [u8], at: usize, v: u32) {
        let b = match self.endian {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        };
        page[at..at + 4].copy_from_slice(&b);
    }

    fn put16(&self, page: &mut [u8], at: usize, v: u16) {
        let b = match self.endian {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        };
        page[at..at + 2].copy_from_slice(&b);
    }

    fn u32b(&self, v: u32) -> [u8; 4] {
        match self.endian {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }

    /// Store `data` on a chain of overflow pages; returns the first page.
    fn overflow(&mut self, data: &[u8]) -> u32 {
        let first = self.pages.len() as u32;
        let chunks: Vec<&[u8]> = data.chunks(PS - 26).collect();
        for (i, c) in chunks.iter().enumerate() {
            let pgno = self.pages.len() as u32;
            let mut p = vec![0; PS];
            self.put32(&mut p, 8, pgno);
            let next = if i + 1 < chunks.len() { pgno + 1 } else { 0 };
            self.put32(&mut p, 16, next);
            self.put16(&mut p, 22, c.len() as u16);
            p[25] = 7;
            p[26..26 + c.len()].copy_from_slice(c);
            self.pages.push(p);
        }
        first
    }

    /// A hash page holding `items` (each already prefixed by its kind byte).
    fn hash_page(&mut self, items: &[Vec<u8>]) -> u32 {
        let pgno = self.pages.len() as u32;
        let mut p = vec![0; PS];
        self.put32(&mut p, 8, pgno);
        let mut off = PS;
        for (i, it) in items.iter().enumerate() {
            off -= it.len();
            p[off..off + it.len()].copy_from_slice(it);
            self.put16(&mut p, 26 + 2 * i, off as u16);
        }
        self.put16(&mut p, 20, items.len() as u16);
        self.put16(&mut p, 22, off as u16);
        p[25] = 13;
        self.pages.push(p);
        pgno
    }

    fn key(&self, hnum: u32) -> Vec<u8> {
        [&[1u8][..], &self.u32b(hnum)].concat()
    }

    fn offpage(&self, pgno: u32, len: u32) -> Vec<u8> {
        [&[3u8, 0, 0, 0][..], &self.u32b(pgno), &self.u32b(len)].concat()
    }

    fn finish(mut self) -> Vec<u8> {
        let last = self.pages.len() as u32 - 1;
        let mut meta = std::mem::take(&mut self.pages[0]);
        self.put32(&mut meta, 12, 0x061561);
        self.put32(&mut meta, 16, 9);
        self.put32(&mut meta, 20, PS as u32);
        meta[25] = 8;
        self.put32(&mut meta, 32, last);
        self.pages[0] = meta;
        self.pages.concat()
    }
}

/// Two packages: "big" on an overflow chain (page 1..), "small" inline,
/// plus rpm's header-number-0 counter record. Returns the file and the
/// first overflow page of "big".
fn two_packages(endian: Endian) -> (Vec<u8>, u32, usize) {
    let mut b = Builder::new(endian);
    let mut big = package("big");
    // Pad the data store so the blob needs three overflow pages.
    let dl = u32::from_be_bytes(big[4..8].try_into().unwrap());
    big[4..8].copy_from_slice(&(dl + 1000).to_be_bytes());
    big.extend_from_slice(&[0u8; 1000]);
    let first = b.overflow(&big);
    let small = package("small");
    let items = vec![
        b.key(0),
        [&[1u8][..], &b.u32b(2)].concat(),
        b.key(7),
        b.offpage(first, big.len() as u32),
        b.key(8),
        [&[1u8][..], &small].concat(),
    ];
    b.hash_page(&items);
    (b.finish(), first, big.len())
}

#[test]
fn reads_both_byte_orders() {
    for endian in [Endian::Little, Endian::Big] {
        let (db, _, _) = two_packages(endian);
        assert_eq!(DbKind::detect(&db), Some(DbKind::Bdb));
        let list = read_bdb(&db, &Limits::default()).expect("read");
        assert!(list.warnings.is_empty(), "{:?}", list.warnings);
        let names: Vec<&str> = list.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["big", "small"], "{endian:?}");
    }
}

#[test]
fn overflow_chain_loop_is_detected() {
    let (mut db, first, len) = two_packages(Endian::Little);
    // Chain is first -> first+1 -> first+2 -> 0; point the last one back to the first.
    let last = first as usize + 2;
    db[last * PS + 16..last * PS + 20].copy_from_slice(&first.to_le_bytes());
    // And claim a longer record, so the reader has a reason to keep following.
    let hash = last + 1;
    let text = &db[hash * PS..(hash + 1) * PS];
    let at = text
        .windows(4)
        .position(|w| w == (len as u32).to_le_bytes())
        .unwrap();
    db[hash * PS + at..hash * PS + at + 4].copy_from_slice(&(len as u32 + 4000).to_le_bytes());

    let list = read_bdb(&db, &Limits::default()).expect("read");
    assert_eq!(list.packages.len(), 1, "the inline package is still read");
    assert_eq!(list.packages[0].name, "small");
    assert_eq!(list.warnings.len(), 1);
    let w = &list.warnings[0];
    assert_eq!(
        w.error,
        RpmError::BdbOverflowLoop {
            start: first,
            page: first
        }
    );
    assert!(w.record.contains("key 7"), "{}", w.record);
    assert!(
        w.to_string()
            .contains("rpm bdb: overflow chain starting at page 1 loops"),
        "{w}"
    );
}

#[test]
fn overflow_chain_past_last_page() {
    let (mut db, first, _) = two_packages(Endian::Big);
    let mid = first as usize + 1;
    db[mid * PS + 16..mid * PS + 20].copy_from_slice(&9999u32.to_be_bytes());
    let list = read_bdb(&db, &Limits::default()).expect("read");
    assert_eq!(list.packages.len(), 1);
    match &list.warnings[..] {
        [w] => {
            assert!(matches!(w.error, RpmError::Bdb { page: 9999, .. }), "{w}");
            assert!(w.to_string().contains("outside pages"), "{w}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn overflow_page_of_wrong_type() {
    let (mut db, first, _) = two_packages(Endian::Little);
    db[(first as usize + 1) * PS + 25] = 13;
    let list = read_bdb(&db, &Limits::default()).expect("read");
    assert_eq!(list.packages.len(), 1);
    assert!(
        list.warnings[0]
            .to_string()
            .contains("has type 13, expected 7"),
        "{}",
        list.warnings[0]
    );
}

#[test]
fn truncated_file_reads_what_is_there() {
    let (db, _, _) = two_packages(Endian::Little);
    // Drop the hash page (the last page): nothing to read, but a warning says why.
    let list = read_bdb(&db[..db.len() - PS], &Limits::default()).expect("read");
    assert!(list.packages.is_empty());
    assert!(matches!(
        list.warnings[0].error,
        RpmError::Bdb { page: 0, .. }
    ));
    assert!(list.warnings[0].to_string().contains("truncated"));
}

#[test]
fn bad_metadata_is_an_error() {
    let (db, _, _) = two_packages(Endian::Little);
    let mut no_magic = db.clone();
    no_magic[12] = 0;
    assert!(matches!(
        read_bdb(&no_magic, &Limits::default()),
        Err(RpmError::Bdb { page: 0, .. })
    ));
    let mut btree = db.clone();
    btree[12..16].copy_from_slice(&0x053162u32.to_le_bytes());
    let e = read_bdb(&btree, &Limits::default()).unwrap_err();
    assert!(e.to_string().contains("btree"), "{e}");
    let mut odd_page = db.clone();
    odd_page[20..24].copy_from_slice(&1000u32.to_le_bytes());
    let e = read_bdb(&odd_page, &Limits::default()).unwrap_err();
    assert!(e.to_string().starts_with("rpm bdb: page 0"), "{e}");
    assert!(read_bdb(&db[..100], &Limits::default()).is_err());
    assert!(read_bdb(&[], &Limits::default()).is_err());
}

#[test]
fn bad_item_offsets_are_warnings() {
    let (mut db, _, _) = two_packages(Endian::Little);
    let hash = db.len() / PS - 1;
    // Item 3 (the off-page data of "big") now points into the index area.
    db[hash * PS + 26 + 6..hash * PS + 26 + 8].copy_from_slice(&10u16.to_le_bytes());
    let list = read_bdb(&db, &Limits::default()).expect("read");
    assert!(!list.warnings.is_empty());
    assert!(list
        .warnings
        .iter()
        .all(|w| w.to_string().contains("rpm bdb: page")));
}

#[test]
fn package_limit() {
    let (db, _, _) = two_packages(Endian::Little);
    let one = Limits {
        max_packages: 1,
        ..Limits::default()
    };
    assert_eq!(
        read_bdb(&db, &one),
        Err(RpmError::TooManyPackages {
            layer: "rpm bdb",
            limit: 1
        })
    );
}

#[test]
fn every_single_byte_flip_is_handled() {
    let (db, _, _) = two_packages(Endian::Little);
    for i in 0..db.len() {
        for v in [0x00, 0x01, 0x7f, 0xff] {
            let mut b = db.clone();
            b[i] = v;
            let _ = read_bdb(&b, &Limits::default());
        }
    }
}
