//! The simulator's documents: five cabinets and a few files, the same in every
//! simulator, for CABINETS and FINDFILES.
//!
//! The reference's examples are reproduced where they can be: cabinet 14 is its
//! "Accounting" with its seven fields, the three files matching "Excel" are its
//! FINDFILES rows, and a user who sees every cabinet searches `?G 14;5;3;18;6` as its
//! `wd_Raw_Loc` shows. Cabinet 18 is restricted to `qc1`, so users see different lists.

/// A cabinet (a Worldox profile group).
#[derive(Debug)]
pub(crate) struct Cabinet {
    /// `PGID`.
    pub(crate) id: u32,
    /// `Name`.
    pub(crate) name: &'static str,
    /// `RO`.
    pub(crate) read_only: bool,
    /// User codes (case-insensitive) who see it; empty: every user.
    users: &'static [&'static str],
    /// The seven profile fields.
    pub(crate) fields: [Field; 7],
}

/// One profile field of a cabinet.
#[derive(Debug)]
pub(crate) struct Field {
    /// `NAME` (`"0"` for an unused field, as the reference shows).
    pub(crate) name: &'static str,
    /// `ACTIVE`, and with it `EDITOK`, `ENTREQ` and `VERIFY`.
    pub(crate) active: bool,
    /// `SUBDIR`: the field's code is a folder level.
    pub(crate) subdir: bool,
    /// `WDUSER`: the field holds a Worldox user.
    pub(crate) wduser: bool,
    /// `RETENT`.
    pub(crate) retent: bool,
    /// `LENGTH`.
    pub(crate) length: u32,
}

/// A file in a cabinet.
#[derive(Debug)]
pub(crate) struct Document {
    /// `CBID`: the cabinet.
    pub(crate) cabinet: u32,
    /// `FN`: the DOCID file name.
    pub(crate) file_name: &'static str,
    /// `XN`: the description.
    pub(crate) description: &'static str,
    /// `CM`: comments, omitted from a row when empty.
    pub(crate) comments: &'static str,
    /// Bytes, shown as `LSZ`.
    pub(crate) size: u64,
    /// `UPD`, `CRTD`, `ACC`: Unix times.
    pub(crate) updated: u64,
    pub(crate) created: u64,
    pub(crate) accessed: u64,
    /// `FP`: the descriptive folder path.
    pub(crate) folder: &'static str,
}

const fn field(name: &'static str, length: u32, subdir: bool, wduser: bool, retent: bool) -> Field {
    Field {
        name,
        active: true,
        subdir,
        wduser,
        retent,
        length,
    }
}

const UNUSED: Field = Field {
    name: "0",
    active: false,
    subdir: false,
    wduser: false,
    retent: false,
    length: 0,
};

/// Client / Year / Doctype / Typist, the reference's Accounting layout.
const ACCOUNTING_FIELDS: [Field; 7] = [
    field("Client", 5, true, false, true),
    field("Year", 4, false, false, false),
    field("Doctype", 8, true, false, false),
    UNUSED,
    UNUSED,
    field("Typist", 8, false, true, false),
    UNUSED,
];

/// Client / Matter / Doctype / Author.
const MATTER_FIELDS: [Field; 7] = [
    field("Client", 5, true, false, true),
    field("Matter", 5, true, false, false),
    field("Doctype", 8, true, false, false),
    field("Author", 8, false, true, false),
    UNUSED,
    UNUSED,
    UNUSED,
];

/// The cabinets, in the order CABINETS lists them.
pub(crate) const CABINETS: &[Cabinet] = &[
    Cabinet {
        id: 14,
        name: "Accounting",
        read_only: false,
        users: &[],
        fields: ACCOUNTING_FIELDS,
    },
    Cabinet {
        id: 5,
        name: "Litigation",
        read_only: false,
        users: &[],
        fields: MATTER_FIELDS,
    },
    Cabinet {
        id: 3,
        name: "Corporate",
        read_only: true,
        users: &[],
        fields: MATTER_FIELDS,
    },
    Cabinet {
        id: 18,
        name: "Human Resources",
        read_only: false,
        users: &["qc1"],
        fields: ACCOUNTING_FIELDS,
    },
    Cabinet {
        id: 6,
        name: "Real Estate",
        read_only: false,
        users: &[],
        fields: MATTER_FIELDS,
    },
];

/// The files, in storage order: a file's `RN` is its place among the matches in this
/// order. The first three are the reference's FINDFILES example.
pub(crate) const DOCUMENTS: &[Document] = &[
    Document {
        cabinet: 5,
        file_name: "00015577.xlsx",
        description: "Sutter Excel Doc",
        comments: "",
        size: 8_499,
        updated: 1_584_985_444,
        created: 1_584_986_400,
        accessed: 1_584_986_400,
        folder: r"\\#\005\00007\0050",
    },
    Document {
        cabinet: 5,
        file_name: "00015661.xlsx",
        description: "Excel test.",
        comments: "Copied.",
        size: 8_806,
        updated: 1_587_490_528,
        created: 1_587_492_000,
        accessed: 1_587_492_000,
        folder: r"\\#\005\00001\0050",
    },
    Document {
        cabinet: 5,
        file_name: "00015655.xlsx",
        description: "Excel test.",
        comments: "",
        size: 8_806,
        updated: 1_587_490_528,
        created: 1_587_492_000,
        accessed: 1_594_663_200,
        folder: r"\\#\005\00001\0010",
    },
    Document {
        cabinet: 5,
        file_name: "00016627.docx",
        description: "Engagement letter",
        comments: "Signed copy.",
        size: 41_230,
        updated: 1_601_042_400,
        created: 1_601_038_800,
        accessed: 1_601_042_400,
        folder: r"\\#\005\00001\0010",
    },
    Document {
        cabinet: 14,
        file_name: "00016702.pdf",
        description: "Smith & Jones: 50% + fees #2",
        comments: "",
        size: 120_115,
        updated: 1_603_720_800,
        created: 1_603_717_200,
        accessed: 1_603_720_800,
        folder: r"\\#\014\00012\2020",
    },
    Document {
        cabinet: 14,
        file_name: "00016710.xlsx",
        description: "Quarterly budget",
        comments: "",
        size: 22_871,
        updated: 1_604_325_600,
        created: 1_604_322_000,
        accessed: 1_604_325_600,
        folder: r"\\#\014\00012\2020",
    },
    Document {
        cabinet: 3,
        file_name: "00016801.pdf",
        description: "Articles of incorporation",
        comments: "",
        size: 310_774,
        updated: 1_606_140_000,
        created: 1_606_136_400,
        accessed: 1_606_140_000,
        folder: r"\\#\003\00031\0001",
    },
    Document {
        cabinet: 18,
        file_name: "00016900.docx",
        description: "Salary review",
        comments: "Confidential.",
        size: 18_002,
        updated: 1_607_349_600,
        created: 1_607_346_000,
        accessed: 1_607_349_600,
        folder: r"\\#\018\00002\2020",
    },
];

impl Cabinet {
    /// Whether `username` sees this cabinet.
    pub(crate) fn visible_to(&self, username: &str) -> bool {
        self.users.is_empty() || self.users.iter().any(|u| u.eq_ignore_ascii_case(username))
    }
}

/// The cabinets `username` sees, in listing order.
pub(crate) fn cabinets_of(username: &str) -> impl Iterator<Item = &'static Cabinet> + '_ {
    CABINETS.iter().filter(move |c| c.visible_to(username))
}

/// A size as Worldox shows it: `8.6 KB`.
pub(crate) fn size_text(bytes: u64) -> String {
    const KB: f64 = 1024.0;
    // Precision loss above 2^53 bytes does not matter for a display string.
    #[allow(clippy::cast_precision_loss)]
    let b = bytes as f64;
    if b < KB {
        format!("{bytes} B")
    } else if b < KB * KB {
        format!("{:.1} KB", b / KB)
    } else {
        format!("{:.1} MB", b / (KB * KB))
    }
}
