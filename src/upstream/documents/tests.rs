use serde_json::json;

use super::*;

fn envelope(v: Value) -> Envelope {
    Envelope::from_value(v).expect("an envelope")
}

#[test]
fn rows_keep_absent_null_and_text_apart_and_skip_placeholders() {
    let e = envelope(
        json!({"root": {"errorStatus": {"List_ID": "x2304DA0", "List_Count": "1359",
            "ErrorCount": ""}, "data": [
            {"XN": "<span class='selectedTxt'>Excel</span> test.", "FN": "00015661.xlsx", "UPD": "1587490528",
             "LSZ": "8.6 KB", "I": "0", "LN": "1", "RN": "3", "CBID": "5", "PSD": "<undefined>",
             "CM": "Copied.", "HASH": "x3357286E", "FPR": "\\\\#\\005\\00015661.xlsx"},
            {"XN": "%:Xname%", "FN": "%:DOCID%", "LN": "%:L#%", "RN": "%:R#%", "CBID": "%:wGROUP%"}
        ]}}),
    );
    let page = page_of(&e).expect("a page");
    assert_eq!(page.list_id, "x2304DA0");
    assert_eq!(page.total, 1359);
    assert_eq!(page.rows.len(), 1, "the placeholder row is no row");
    let row = &page.rows[0];
    assert_eq!((row.ln, row.rn, row.cabinet), (1, 3, 5));
    assert_eq!(row.comments, Cell::Text("Copied.".into()));
    assert_eq!(row.version, Cell::NotSent);
    assert_eq!(row.hash.text(), Some("x3357286E"));
    assert_eq!(
        Cell::of(
            &json!({"PSD": "<undefined>"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            "PSD"
        ),
        Cell::Null
    );
}

#[test]
fn an_empty_result_is_a_page_without_rows() {
    // 9105 is read as success by the envelope; data is "".
    let e = envelope(
        json!({"root": {"errorStatus": {"List_ID": "x1", "List_Count": "0",
        "ErrorCount": "1", "Error": [{"wd_Error_RCID": "9105", "wd_Error_RCTX": "WDRC_ZERO_PROJECT_CLEAN"}]},
        "data": ""}}),
    );
    let page = page_of(&e).expect("a page");
    assert_eq!((page.total, page.rows.len()), (0, 0));
}

#[test]
fn the_cabinet_filter_is_its_own_clause() {
    let find = |query, cabinet| {
        Find {
            query,
            cabinet,
            sort: SortBy {
                key: 5374,
                descending: true,
            },
            window: Window { skip: 1, take: 50 },
        }
        .wd_query()
    };
    assert_eq!(find("Excel", None), "Excel");
    assert_eq!(find("Excel", Some(5)), "Excel | ?G 5");
    assert_eq!(find(" ", Some(14)), "?G 14");
}

#[test]
fn structured_filters_are_their_own_parameters_and_the_cabinet_a_profile_group() {
    let find = Find {
        query: "",
        cabinet: Some(5),
        sort: SortBy {
            key: 5374,
            descending: true,
        },
        window: Window { skip: 1, take: 50 },
    };
    let filters = vec![
        (Filter::Description, "a+b&c=d%e".to_owned()),
        (Filter::Field3, "AGR".to_owned()),
    ];
    let params = find_params(Params::new(), &find, &filters);
    let pairs: Vec<(&str, &str)> = params.iter().collect();
    assert_eq!(
        pairs,
        vec![
            ("wd_File_ProfileGroup_Filter", "5"),
            ("wd_File_Xname_Filter", "a+b&c=d%e"),
            ("wd_File_Field3_Filter", "AGR"),
        ]
    );
    // Without filters the cabinet stays a `?G` clause of the query.
    let plain = find_params(Params::new(), &find, &[]);
    assert_eq!(plain.get("wd_FIND_QUERY"), Some("?G 5"));
    assert_eq!(plain.get("wd_File_ProfileGroup_Filter"), None);
    // Each filter has its own parameter.
    let mut names: Vec<&str> = Filter::ALL.iter().map(|f| f.param()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Filter::ALL.len());
}

#[test]
fn cabinets_drop_unused_fields_and_read_number_flags() {
    let e = envelope(json!({"root": {"errorStatus": {"ErrorCount": ""}, "data": [
        {"L#": "1", "PGID": 14, "Name": "Accounting", "RO": "1", "DO": "0", "Fields": [
            {"FIELD": "Field #1", "NAME": "Client", "ACTIVE": 1, "ENTREQ": 1, "LENGTH": 5},
            {"FIELD": "Field #2", "NAME": "0", "ACTIVE": 0, "LENGTH": 0}
        ]},
        {"PGID": "%Cabinet_ID%", "Name": "%:Cabinet_NAME%"}
    ]}}));
    let cabinets: Vec<Cabinet> = rows_of(&e).expect("rows").filter_map(cabinet).collect();
    assert_eq!(cabinets.len(), 1);
    let c = &cabinets[0];
    assert!(c.read_only && !c.deny_open);
    assert_eq!(c.fields.len(), 1);
    assert_eq!((c.fields[0].number, c.fields[0].max_length), (1, 5));
    assert!(c.fields[0].required);
}

#[test]
fn download_needs_a_same_origin_file_location_whatever_error_count_says() {
    let ready = download_of(
        &json!({"fileLoc": "/cgi-bin/WDSIDS/S%243D/OPEN/005/a.pdf", "FileNme": "a.pdf"}),
    );
    assert!(
        matches!(ready, Ok(Download::Ready { path, name }) if path.expose() == "/cgi-bin/WDSIDS/S%243D/OPEN/005/a.pdf" && name.as_deref() == Some("a.pdf"))
    );
    assert_eq!(
        download_of(&json!({"message": "0=wd_List_Offset(3)"})).ok(),
        Some(Download::Reread)
    );
    assert_eq!(
        download_of(&json!({"message": "8275=WDAPI_ReReadRecord(9)"})).ok(),
        Some(Download::Reread)
    );
    for bad in [
        json!({"fileLoc": ""}),
        json!({}),
        json!(""),
        json!({"fileLoc": "https://evil.example/cgi-bin/WDSIDS/x"}),
        json!({"fileLoc": "/cgi-bin/WDSIDS/x/../../wdwebcgi.exe"}),
        json!({"message": "something else"}),
    ] {
        assert!(
            matches!(download_of(&bad), Err(Error::Shape(_))),
            "{bad} passed"
        );
    }
}

#[test]
fn file_names_are_read_with_javascript_unescape_rules() {
    assert_eq!(
        js_unescape("R%E9sum%E9%20%u2013%20M%FCller%20%2800014711x51615%29.PDF"),
        "Résumé – Müller (00014711x51615).PDF"
    );
    assert_eq!(js_unescape("100%"), "100%");
    assert_eq!(js_unescape("%zz%u12"), "%zz%u12");
    assert_eq!(js_unescape("%uD83D%uDE00"), "\u{1F600}");
}

#[test]
fn a_reread_answers_its_row_or_none_when_the_template_could_not_reread() {
    let fresh = envelope(
        json!({"root": {"errorStatus": {"List_ID": "x1", "List_Count": "3",
            "ErrorCount": ""}, "data": [
            {"XN": "Excel test.", "FN": "00015655.xlsx", "UPD": "1587490528", "SZ": "8.6 KB",
             "VER": "1", "LN": "2", "RN": "1", "CBID": "5", "Name": "Excel test. (00015655x51615).XLSX"}
        ]}}),
    );
    let row = reread_of(&fresh).expect("an answer").expect("a row");
    assert_eq!((row.ln, row.rn, row.cabinet), (2, 1, 5));
    assert_eq!(row.version.number::<u32>(), Some(1));
    let placeholders = envelope(json!({"root": {"errorStatus": {"List_ID": "x1",
        "ErrorCount": ""}, "data": [{"FN": "%:DOCID%", "LN": "%:L#%", "RN": "%:R#%"}]}}));
    assert_eq!(reread_of(&placeholders).expect("an answer"), None);
    let message = envelope(json!({"root": {"errorStatus": {"ErrorCount": ""},
        "data": {"message": "8275=WDAPI_ReReadRecord(3)"}}}));
    assert_eq!(reread_of(&message).expect("an answer"), None);
    let other = envelope(json!({"root": {"errorStatus": {"ErrorCount": ""},
        "data": {"message": "something else"}}}));
    assert!(reread_of(&other).is_err());
}
