//! The simulator's documents as seeded: five cabinets and fourteen files, the same in
//! every simulator. The store (`store.rs`) builds its records and bytes from them.
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

/// A file in a cabinet, as seeded: its metadata at start. What changes at run time
/// (access date, owner initials, favorite) lives in the store (`store.rs`).
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
    /// Bytes of the current version, shown as `LSZ`/`SZ` (the large document's comes
    /// from `sim.large_document_mib` instead).
    pub(crate) size: u64,
    /// `UPD` (of the current version), `CRTD`, `ACC`: Unix times.
    pub(crate) updated: u64,
    pub(crate) created: u64,
    pub(crate) accessed: u64,
    /// `FP`: the folder path in hidden form (`\\#\005\00001\0010`).
    pub(crate) folder: &'static str,
    /// Profile field codes and their descriptions, field 1 first; `("", "")` for a
    /// field left empty. Fields the cabinet does not use are never shown.
    pub(crate) codes: &'static [(&'static str, &'static str)],
    /// `OW` at start: who last accessed the file.
    pub(crate) owner: &'static str,
    /// Earlier versions as `(UPD, size)`, oldest first; the current version (this
    /// document's `updated` and `size`) comes after them.
    pub(crate) earlier: &'static [(u64, u64)],
    /// Who the file is checked out to at start: their user code and how
    /// `CHKOUT_TO_NAME` shows them (`QC User1 (QC1)`).
    pub(crate) checked_out_to: Option<(&'static str, &'static str)>,
    /// Whether the description goes out as raw Windows-1252 bytes (`cp1252_bytes`).
    pub(crate) cp1252: bool,
    /// Who may find and open it.
    pub(crate) security: Security,
    /// What its bytes look like.
    pub(crate) kind: Kind,
}

/// A document's security flag (NEWFILE's and RENAME's "none, protected or hidden"),
/// each kind set by a user, who alone is exempt from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Security {
    /// Everyone who sees the cabinet finds and opens it.
    None,
    /// Others find it and read its profile, but DOWNLOAD is refused with
    /// `WDRC_FILE_ACCESS_DENIED`.
    Protected(&'static str),
    /// Others do not find it at all.
    Hidden(&'static str),
}

impl Security {
    /// Whether `username` finds the document in a search.
    pub(crate) fn finds(self, username: &str) -> bool {
        match self {
            Self::Hidden(owner) => owner.eq_ignore_ascii_case(username),
            Self::None | Self::Protected(_) => true,
        }
    }

    /// Whether `username` may open (DOWNLOAD) the document.
    pub(crate) fn opens(self, username: &str) -> bool {
        match self {
            Self::Hidden(owner) | Self::Protected(owner) => owner.eq_ignore_ascii_case(username),
            Self::None => true,
        }
    }
}

/// What a document's bytes look like (see `content.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A real one-page PDF, padded with comments.
    Pdf,
    /// A ZIP local header and pseudo-random bytes (`.docx`, `.xlsx`).
    Zip,
    /// Plain text lines.
    Text,
    /// The large document: text lines only, of `sim.large_document_mib` MiB.
    Large,
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
/// order. The first three are the reference's FINDFILES example; the first eight are
/// the original set, whose rows other tests pin. The seeds after them are older than
/// all eight, so a newest-first list shows the eight first:
///
/// | file | what it is for |
/// |---|---|
/// | `00014410.docx` | three versions (VERLIST) |
/// | `00014502.docx` | checked out by `qc1` (`I` 48 for qc1, 49 for others) |
/// | `00014603.txt` | a description with `"`, `\`, `&`, `<`, `%`, `+`, `#` |
/// | `00014711.pdf` | a non-ASCII long name (`Résumé – Müller (00014711x51615).PDF`) |
/// | `00014805.txt` | a description sent as raw Windows-1252 bytes (`electrónico`) |
/// | `00014999.csv` | the large document (`sim.large_document_mib`, 200 MiB), generated on read |
/// | `00015101.docx` | hidden by `qc1`: no other user finds it |
/// | `00015102.pdf` | protected by `qc1`: others find it, but DOWNLOAD is `WDRC_FILE_ACCESS_DENIED` |
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
        codes: &[
            ("00007", "Sutter Health"),
            ("0050", "General Matters"),
            ("SPREAD", "Spreadsheets"),
            ("QC4", "QC User4"),
        ],
        owner: "QC User4 (QC4)",
        earlier: &[],
        checked_out_to: None,
        cp1252: false,
        security: Security::None,
        kind: Kind::Zip,
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
        codes: &[
            ("00001", "Worldox Demo Client"),
            ("0050", "General Matters"),
            ("SPREAD", "Spreadsheets"),
            ("QC4", "QC User4"),
        ],
        owner: "QC User4 (QC4)",
        earlier: &[],
        checked_out_to: None,
        cp1252: false,
        security: Security::None,
        kind: Kind::Zip,
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
        codes: &[
            ("00001", "Worldox Demo Client"),
            ("0010", "Contract Review"),
            ("SPREAD", "Spreadsheets"),
            ("QC4", "QC User4"),
        ],
        owner: "QC User4 (QC4)",
        earlier: &[],
        checked_out_to: None,
        cp1252: false,
        security: Security::None,
        kind: Kind::Zip,
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
        codes: &[
            ("00001", "Worldox Demo Client"),
            ("0010", "Contract Review"),
            ("LETTER", "Letters"),
            ("DEMO", "Demo User"),
        ],
        owner: "Demo User (DEMO)",
        earlier: &[],
        checked_out_to: None,
        cp1252: false,
        security: Security::None,
        kind: Kind::Zip,
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
        codes: &[
            ("00012", "Smith & Jones LLP"),
            ("2020", "2020"),
            ("INVOICE", "Invoices"),
            ("", ""),
            ("", ""),
            ("BRAD", "Jeffers, Brad"),
        ],
        owner: "QC User10 (QC10)",
        earlier: &[],
        checked_out_to: None,
        cp1252: false,
        security: Security::None,
        kind: Kind::Pdf,
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
        codes: &[
            ("00012", "Smith & Jones LLP"),
            ("2020", "2020"),
            ("BUDGET", "Budgets"),
            ("", ""),
            ("", ""),
            ("BRAD", "Jeffers, Brad"),
        ],
        owner: "QC User10 (QC10)",
        earlier: &[],
        checked_out_to: None,
        cp1252: false,
        security: Security::None,
        kind: Kind::Zip,
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
        codes: &[
            ("00031", "Northwind Corp."),
            ("0001", "Formation"),
            ("CHARTER", "Charter Documents"),
            ("QC1", "QC User1"),
        ],
        owner: "QC User1 (QC1)",
        earlier: &[],
        checked_out_to: None,
        cp1252: false,
        security: Security::None,
        kind: Kind::Pdf,
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
        codes: &[
            ("00002", "Staff"),
            ("2020", "2020"),
            ("REVIEW", "Reviews"),
            ("", ""),
            ("", ""),
            ("HR1", "HR Admin"),
        ],
        owner: "QC User1 (QC1)",
        earlier: &[],
        checked_out_to: None,
        cp1252: false,
        security: Security::None,
        kind: Kind::Zip,
    },
    Document {
        cabinet: 5,
        file_name: "00014410.docx",
        description: "Settlement agreement",
        comments: "Third draft.",
        size: 33_412,
        updated: 1_582_000_000,
        created: 1_577_988_000,
        accessed: 1_582_048_800,
        folder: r"\\#\005\00001\0010",
        codes: &[
            ("00001", "Worldox Demo Client"),
            ("0010", "Contract Review"),
            ("AGR", "Agreement"),
            ("DEMO", "Demo User"),
        ],
        owner: "Demo User (DEMO)",
        earlier: &[(1_578_000_000, 30_100), (1_580_000_000, 31_870)],
        checked_out_to: None,
        cp1252: false,
        security: Security::None,
        kind: Kind::Zip,
    },
    Document {
        cabinet: 5,
        file_name: "00014502.docx",
        description: "Deposition outline",
        comments: "",
        size: 27_640,
        updated: 1_576_000_000,
        created: 1_575_914_400,
        accessed: 1_576_000_800,
        folder: r"\\#\005\00007\0050",
        codes: &[
            ("00007", "Sutter Health"),
            ("0050", "General Matters"),
            ("OUTLINE", "Outlines"),
            ("QC1", "QC User1"),
        ],
        owner: "QC User1 (QC1)",
        earlier: &[],
        checked_out_to: Some(("qc1", "QC User1 (QC1)")),
        cp1252: false,
        security: Security::None,
        kind: Kind::Zip,
    },
    Document {
        cabinet: 14,
        file_name: "00014603.txt",
        description: r#"Memo "Q4" C:\temp & <draft> 100% + #7"#,
        comments: "",
        size: 2_345,
        updated: 1_575_000_000,
        created: 1_574_964_000,
        accessed: 1_575_050_400,
        folder: r"\\#\014\00012\2019",
        codes: &[
            ("00012", "Smith & Jones LLP"),
            ("2019", "2019"),
            ("MEMO", "Memoranda"),
            ("", ""),
            ("", ""),
            ("BRAD", "Jeffers, Brad"),
        ],
        owner: "QC User10 (QC10)",
        earlier: &[],
        checked_out_to: None,
        cp1252: false,
        security: Security::None,
        kind: Kind::Text,
    },
    Document {
        cabinet: 6,
        file_name: "00014711.pdf",
        description: "R\u{e9}sum\u{e9} \u{2013} M\u{fc}ller",
        comments: "",
        size: 54_321,
        updated: 1_574_000_000,
        created: 1_573_927_200,
        accessed: 1_574_013_600,
        folder: r"\\#\006\00040\0002",
        codes: &[
            ("00040", "M\u{fc}ller GmbH"),
            ("0002", "Hiring"),
            ("CV", "Curricula vitae"),
            ("DEMO", "Demo User"),
        ],
        owner: "Demo User (DEMO)",
        earlier: &[],
        checked_out_to: None,
        cp1252: false,
        security: Security::None,
        kind: Kind::Pdf,
    },
    Document {
        cabinet: 5,
        file_name: "00014805.txt",
        description: "Correo electr\u{f3}nico del cliente",
        comments: "",
        size: 4_096,
        updated: 1_573_000_000,
        created: 1_572_976_800,
        accessed: 1_573_063_200,
        folder: r"\\#\005\00001\0050",
        codes: &[
            ("00001", "Worldox Demo Client"),
            ("0050", "General Matters"),
            ("EMAIL", "Email"),
            ("QC1", "QC User1"),
        ],
        owner: "QC User1 (QC1)",
        earlier: &[],
        checked_out_to: None,
        cp1252: true,
        security: Security::None,
        kind: Kind::Text,
    },
    Document {
        cabinet: 14,
        file_name: "00014999.csv",
        description: "Ledger export (large)",
        comments: "",
        size: 0,
        updated: 1_572_000_000,
        created: 1_571_940_000,
        accessed: 1_572_026_400,
        folder: r"\\#\014\00012\2019",
        codes: &[
            ("00012", "Smith & Jones LLP"),
            ("2019", "2019"),
            ("LEDGER", "Ledgers"),
            ("", ""),
            ("", ""),
            ("BRAD", "Jeffers, Brad"),
        ],
        owner: "QC User10 (QC10)",
        earlier: &[],
        checked_out_to: None,
        cp1252: false,
        security: Security::None,
        kind: Kind::Large,
    },
    Document {
        cabinet: 5,
        file_name: "00015101.docx",
        description: "Partner compensation notes",
        comments: "Hidden from everyone but QC1.",
        size: 12_288,
        updated: 1_571_000_000,
        created: 1_570_996_400,
        accessed: 1_571_000_000,
        folder: r"\\#\005\00001\0050",
        codes: &[
            ("00001", "Worldox Demo Client"),
            ("0050", "General Matters"),
            ("NOTES", "Notes"),
            ("QC1", "QC User1"),
        ],
        owner: "QC User1 (QC1)",
        earlier: &[],
        checked_out_to: None,
        cp1252: false,
        security: Security::Hidden("qc1"),
        kind: Kind::Zip,
    },
    Document {
        cabinet: 5,
        file_name: "00015102.pdf",
        description: "Sealed board resolutions",
        comments: "Protected: only QC1 opens it.",
        size: 23_456,
        updated: 1_570_000_000,
        created: 1_569_996_400,
        accessed: 1_570_000_000,
        folder: r"\\#\005\00001\0010",
        codes: &[
            ("00001", "Worldox Demo Client"),
            ("0010", "Contract Review"),
            ("AGR", "Agreement"),
            ("QC1", "QC User1"),
        ],
        owner: "QC User1 (QC1)",
        earlier: &[],
        checked_out_to: None,
        cp1252: false,
        security: Security::Protected("qc1"),
        kind: Kind::Pdf,
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
