use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn load(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_toml(text, "test.toml", &env(vars))
}

#[test]
fn defaults_are_valid() {
    let c = load("", &[]).expect("defaults load");
    assert_eq!(c.server.listen.port(), 8080);
    assert!(c.upstream.url.is_none());
    assert_eq!(c.session.store, StoreKind::Memory);
}

#[test]
fn the_shipped_example_config_is_valid() {
    let text = include_str!("../../config/wdgate.toml");
    load(text, &[]).expect("config/wdgate.toml loads");
}

#[test]
fn env_overrides_the_file() {
    let c = load(
        "[upstream]\nurl = \"http://file.example\"\ntimeout_ms = 5\n",
        &[
            ("WDGATE_UPSTREAM_URL", "https://env.example"),
            ("WDGATE_SESSION_IDLE_TIMEOUT_SECS", "60"),
            ("WDGATE_LISTEN", "127.0.0.1:0"),
            ("WDGATE_STATUS_MAP_WDRC_SOMETHING", "403"),
            ("UNRELATED", "x"),
        ],
    )
    .expect("valid");
    assert_eq!(c.upstream.url.as_deref(), Some("https://env.example"));
    assert_eq!(c.upstream.timeout_ms, 5);
    assert_eq!(c.session.idle_timeout_secs, 60);
    assert_eq!(c.server.listen.port(), 0);
    assert_eq!(c.status_map.get("WDRC_SOMETHING"), Some(&403));
}

#[test]
fn errors_name_the_key() {
    /// TOML text, environment, and the key the error must name.
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case<'_>] = &[
        ("[upstream]\nurl = \"ftp://x\"\n", &[], "upstream.url"),
        (
            "[session]\nidle_timeout_secs = 0\n",
            &[],
            "session.idle_timeout_secs",
        ),
        ("[server]\nlisten = \"nope\"\n", &[], "listen"),
        ("[server]\nlisten_addr = \"x\"\n", &[], "listen_addr"),
        ("[status_map]\nWDRC_X = 200\n", &[], "status_map.WDRC_X"),
        ("", &[("WDGATE_NOPE", "1")], "WDGATE_NOPE"),
        (
            "",
            &[("WDGATE_SESSION_IDLE_TIMEOUT_SECS", "abc")],
            "idle_timeout_secs",
        ),
        ("[log]\nformat = \"xml\"\n", &[], "xml"),
        ("not toml [", &[], "test.toml"),
    ];
    for (text, vars, key) in cases {
        let err = load(text, vars).expect_err(text).to_string();
        assert!(err.contains(key), "{err:?} should name {key}");
    }
}

#[test]
fn redaction_hides_url_credentials() {
    assert_eq!(
        redact_url_credentials("https://user:pw@wd.example/x"),
        "https://***@wd.example/x"
    );
    assert_eq!(
        redact_url_credentials("https://wd.example/a@b"),
        "https://wd.example/a@b"
    );
    let mut c = Config::default();
    c.upstream.url = Some("https://user:secret@wd.example".to_owned());
    c.devices.id_key = Some("topsecret-device-key".to_owned());
    let shown = c.to_redacted_toml();
    assert!(!shown.contains("secret"), "{shown}");
}

#[test]
fn the_passthrough_allows_the_document_commands_by_default() {
    let c = load("", &[]).expect("defaults load");
    assert!(c.passthrough.enabled);
    for command in ["CABINETS", "FINDFILES", "CHECKOUT", "VIEWFILE", "TREEOPEN"] {
        assert!(c.passthrough.allows(command), "{command}");
    }
    for command in [
        "LOGON",
        "LOGOFF",
        "2FGET",
        "2FSET",
        "cabinets",
        "FROBNICATE",
    ] {
        assert!(!c.passthrough.allows(command), "{command}");
    }
    let shipped = load(include_str!("../../config/wdgate.toml"), &[]).expect("valid");
    assert_eq!(
        shipped.passthrough, c.passthrough,
        "the example lists the defaults"
    );
}

#[test]
fn the_passthrough_allow_list_comes_from_toml_or_a_comma_separated_env_var() {
    let c = load("[passthrough]\nallow = [\"CABINETS\"]\n", &[]).expect("valid");
    assert_eq!(c.passthrough.allow, ["CABINETS"]);
    let c = load(
        "[passthrough]\nallow = [\"CABINETS\"]\n",
        &[
            ("WDGATE_PASSTHROUGH_ALLOW", "FINDFILES, SERVE,"),
            ("WDGATE_PASSTHROUGH_ENABLED", "false"),
        ],
    )
    .expect("valid");
    assert_eq!(c.passthrough.allow, ["FINDFILES", "SERVE"]);
    assert!(!c.passthrough.allows("FINDFILES"), "disabled");
    let shown = c.to_redacted_toml();
    assert!(shown.contains("[passthrough]"), "{shown}");
}

#[test]
fn the_passthrough_never_allows_the_session_and_2fa_commands() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("[passthrough]\nallow = [\"CABINETS\", \"LOGON\"]\n", &[]),
        ("", &[("WDGATE_PASSTHROUGH_ALLOW", "CABINETS,LOGOFF")]),
        ("[passthrough]\nallow = [\"2FSET\"]\n", &[]),
        ("[passthrough]\nallow = [\"2FGET\"]\n", &[]),
        ("[passthrough]\nallow = [\"cabinets\"]\n", &[]),
        ("[passthrough]\nallow = [\"CABINETS&X=1\"]\n", &[]),
        ("[passthrough]\nallow = 3\n", &[]),
    ];
    for (text, vars) in cases {
        let err = load(text, vars).expect_err(text).to_string();
        assert!(
            err.contains("passthrough.allow"),
            "{err:?} should name the key"
        );
    }
    let err = load("[passthrough]\nallow = [\"LOGON\"]\n", &[]).expect_err("LOGON");
    assert!(
        err.to_string()
            .contains("LOGON can never be passed through"),
        "{err}"
    );
    // An empty list is valid: nothing is passed through.
    let c = load("", &[("WDGATE_PASSTHROUGH_ALLOW", " , ")]).expect("valid");
    assert!(c.passthrough.allow.is_empty());
}
