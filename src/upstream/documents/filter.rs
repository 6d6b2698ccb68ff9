//! FINDFILES' structured filters: the `wd_File_*_Filter` parameter each API filter
//! is sent as, and the `?t` form of a full-text query.

use serde::{Deserialize, Serialize};

use super::super::fields::param;

/// A structured FINDFILES filter: the profile value a `wd_File_*_Filter` parameter
/// narrows. Its serde name is the API's query parameter (`file_name`, `field3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// `wd_File_Xname_Filter`: the description.
    Description,
    /// `wd_File_Filename_Filter`: the DOCID file name.
    FileName,
    /// `wd_File_Field1_Filter` … `wd_File_Field7_Filter`: a profile field's code.
    Field1,
    /// Field 2.
    Field2,
    /// Field 3.
    Field3,
    /// Field 4.
    Field4,
    /// Field 5.
    Field5,
    /// Field 6.
    Field6,
    /// Field 7.
    Field7,
    /// `wd_File_Updated_Filter`.
    Updated,
    /// `wd_File_Created_Filter`.
    Created,
    /// `wd_File_AccessDate_Filter`.
    Accessed,
}

impl Filter {
    /// Every filter, in parameter order.
    pub const ALL: [Self; 12] = [
        Self::Description,
        Self::FileName,
        Self::Field1,
        Self::Field2,
        Self::Field3,
        Self::Field4,
        Self::Field5,
        Self::Field6,
        Self::Field7,
        Self::Updated,
        Self::Created,
        Self::Accessed,
    ];

    /// The FINDFILES parameter.
    pub fn param(self) -> &'static str {
        match self {
            Self::Description => param::XNAME_FILTER,
            Self::FileName => param::FILENAME_FILTER,
            Self::Field1 => param::FIELD_FILTERS[0],
            Self::Field2 => param::FIELD_FILTERS[1],
            Self::Field3 => param::FIELD_FILTERS[2],
            Self::Field4 => param::FIELD_FILTERS[3],
            Self::Field5 => param::FIELD_FILTERS[4],
            Self::Field6 => param::FIELD_FILTERS[5],
            Self::Field7 => param::FIELD_FILTERS[6],
            Self::Updated => param::UPDATED_FILTER,
            Self::Created => param::CREATED_FILTER,
            Self::Accessed => param::ACCESS_DATE_FILTER,
        }
    }

    /// The API's name for it (the query parameter).
    pub fn name(self) -> &'static str {
        match self {
            Self::Description => "description",
            Self::FileName => "file_name",
            Self::Field1 => "field1",
            Self::Field2 => "field2",
            Self::Field3 => "field3",
            Self::Field4 => "field4",
            Self::Field5 => "field5",
            Self::Field6 => "field6",
            Self::Field7 => "field7",
            Self::Updated => "updated",
            Self::Created => "created",
            Self::Accessed => "accessed",
        }
    }
}

/// `wd_FIND_QUERY` for a full-text search of `text` (`?t`).
pub fn full_text(text: &str) -> String {
    format!("?t {text}")
}
