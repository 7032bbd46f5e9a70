//! The product spec's rules and examples, checked on the native build.

use traqq::{format_number, sanitize, Config, Engine};

fn engine(config: &str) -> Engine {
    Engine::new(Config::from_json(config).expect("valid config")).expect("engine")
}

/// Commands of each line, as text with spaces, or `!reason`.
fn run(config: &str, input: &str, now: i64) -> Vec<String> {
    let raw = engine(config)
        .process_lines(input, now as f64 * 1000.0)
        .unwrap();
    let mut out = Vec::new();
    let mut lines = raw.split_terminator('\n');
    while let Some(head) = lines.next() {
        if let Some(reason) = head.strip_prefix('-') {
            out.push(format!("!{reason}"));
        } else if let Some(n) = head.strip_prefix('+') {
            let n: usize = n.parse().unwrap();
            for _ in 0..n {
                out.push(lines.next().unwrap().replace('\u{1f}', " "));
            }
        }
    }
    out
}

#[test]
fn section_4_example() {
    let config = r#"{"mapping":{"bitmap":["ip"],"add":["event","event~utm_source"],
        "addValue":[{"key":"event","addKey":"amount"}]}}"#;
    let event = r#"{"event":"purchase","amount":99.99,"ip":"127.0.0.1","utm_source":"google"}"#;
    assert_eq!(
        run(config, event, 1696118400),
        [
            "PFADD bmp:d:1696118400:ip 127.0.0.1",
            "INCR add:d:1696118400:event:purchase",
            "INCR add:d:1696118400:event~utm_source:purchase~google",
            "INCRBYFLOAT adv:d:1696118400:amount:event:purchase 99.99",
        ]
    );
}

#[test]
fn sanitizing_examples() {
    let cases = [
        ("~hello~world~", 512, Some("hello_world")),
        ("test~event:name", 512, Some("test_event_name")),
        ("   ", 512, None),
        ("ab😀cd", 3, Some("ab😀")),
        ("👍🏽x", 1, Some("👍")),
        ("\u{85}a\u{85}", 512, Some("a")),
        ("\u{feff}a", 512, Some("\u{feff}a")),
        ("ab ~cd", 3, Some("ab")),
        ("a\u{7}b\u{9f}c", 512, Some("a_b_c")),
    ];
    for (input, max, want) in cases {
        assert_eq!(
            sanitize(input, max).as_deref(),
            want,
            "sanitize({input:?}, {max})"
        );
    }
}

#[test]
fn numbers_as_values() {
    let cases = [
        ("2868860079149422351", Some("2868860079149422351")),
        ("-0", Some("0")),
        ("1.0", Some("1")),
        ("1e21", Some("1e+21")),
        ("5e-7", Some("5e-7")),
        ("99.99", Some("99.99")),
        ("-0.0", Some("0")),
        ("0.1E2", Some("10")),
        ("123456789012345680000", Some("123456789012345680000")),
        ("1e400", None),
    ];
    for (lit, want) in cases {
        assert_eq!(format_number(lit).as_deref(), want, "format_number({lit})");
    }
}

#[test]
fn overflowing_literal_drops_only_that_property() {
    let config = r#"{"mapping":{"add":["event","event~n","event~m"]}}"#;
    let out = run(config, r#"{"event":"e","n":1e400,"m":true}"#, 0);
    assert_eq!(out, ["INCR add:d:0:event:e", "INCR add:d:0:event~m:e~true"]);
}

#[test]
fn time_bucket_table() {
    let cases = [
        ("America/New_York", 1730611800, 1730606400, Some(1730610000)),
        ("America/New_York", 1730615400, 1730606400, Some(1730613600)),
        ("Asia/Kolkata", 1730572200, 1730572200, None),
        ("Asia/Kolkata", 1730658599, 1730572200, None),
        ("Asia/Kathmandu", 1730571300, 1730571300, None),
        ("Asia/Kathmandu", 1730657699, 1730571300, None),
        ("America/Havana", 1710050000, 1710046800, None),
    ];
    for (zone, t, d, h) in cases {
        let config = format!(r#"{{"time":{{"timezone":"{zone}","storeHourly":true}}}}"#);
        let out = run(&config, r#"{"event":"e"}"#, t);
        assert_eq!(out[0], format!("INCR add:d:{d}:event:e"), "{zone} at {t}");
        if let Some(h) = h {
            assert_eq!(out[1], format!("INCR add:h:{h}:event:e"), "{zone} at {t}");
        }
    }
}

#[test]
fn hours_of_half_and_quarter_hour_zones_start_off_the_utc_hour() {
    let config = r#"{"time":{"timezone":"Asia/Kathmandu","storeHourly":true}}"#;
    // 2024-11-03 10:50 local (+05:45) is 05:05 UTC; its hour began at 04:15 UTC.
    let out = run(config, r#"{"event":"e"}"#, 1730610300);
    assert_eq!(out[1], "INCR add:h:1730607300:event:e");
}

#[test]
fn rejections_carry_their_reason() {
    let config = r#"{"time":{"eventTimeField":"ts"}}"#;
    let cases = [
        (r#"{"event":"#, "!invalid JSON: unexpected end of input"),
        (r#"{"event":"a",}"#, "!invalid JSON: syntax error"),
        (r#"{"event":1.}"#, "!invalid JSON: syntax error"),
        (r#"[1,2]"#, "!event must be a JSON object"),
        (r#"{"x":1}"#, "!missing required 'event' field"),
        (r#"{"event":null}"#, "!missing required 'event' field"),
        (r#"{"event":5}"#, "!'event' field must be a string"),
        (r#"{"event":" :~ "}"#, "!event name cannot be empty"),
        (
            r#"{"event":"a","ts":true}"#,
            "!event time 'ts' must be a number or an RFC 3339 string",
        ),
        (
            r#"{"event":"a","ts":"yesterday"}"#,
            "!event time 'ts' is not an RFC 3339 date-time: \"yesterday\"",
        ),
        (
            r#"{"event":"a","ts":1e15}"#,
            "!event time 'ts' is out of range",
        ),
        ("{\"ev\u{1}ent\":\"a\"}", "!invalid JSON: syntax error"),
    ];
    for (line, want) in cases {
        assert_eq!(run(config, line, 0), [want], "{line}");
    }
}

#[test]
fn one_bad_event_does_not_stop_the_rest() {
    let out = run("{}", "{\"event\":\"a\"}\n{oops\n\n{\"event\":\"b\"}\n", 0);
    assert_eq!(
        out,
        [
            "INCR add:d:0:event:a",
            "!invalid JSON: syntax error",
            "INCR add:d:0:event:b"
        ]
    );
}

#[test]
fn properties_flatten_and_the_last_duplicate_wins() {
    let config = r#"{"mapping":{"add":["event~device.type"]}}"#;
    let cases = [
        (
            r#"{"event":"e","device":{"type":"mobile"}}"#,
            Some("mobile~e"),
        ),
        (
            r#"{"event":"e","device":{"type":"a"},"device.type":"b"}"#,
            Some("b~e"),
        ),
        (r#"{"event":"e","device":{"type":"a","type":null}}"#, None),
        (r#"{"event":"e","device":{"type":[1]}}"#, None),
        (
            r#"{"event":"e","ev\u0065nt":"f","device":{"type":false}}"#,
            Some("false~f"),
        ),
    ];
    for (line, want) in cases {
        let out = run(config, line, 0);
        let want: Vec<String> = want
            .into_iter()
            .map(|v| format!("INCR add:d:0:device.type~event:{v}"))
            .collect();
        assert_eq!(out, want, "{line}");
    }
}

#[test]
fn lone_surrogates_become_replacement_characters() {
    let out = run("{}", r#"{"event":"a\ud800b\udc00"}"#, 0);
    assert_eq!(out, ["INCR add:d:0:event:a\u{fffd}b\u{fffd}"]);
}

#[test]
fn amounts_are_numbers_or_numeric_strings() {
    let config = r#"{"mapping":{"add":[],"addValue":[{"key":"event","addKey":"v"}]}}"#;
    let cases = [
        ("99.99", Some("99.99")),
        ("\"0.99\"", Some("0.99")),
        ("\"-5\"", Some("-5")),
        ("\"1e3\"", Some("1000")),
        ("\" 7 \"", Some("7")),
        ("\"0x10\"", None),
        ("\"Infinity\"", None),
        ("\"NaN\"", None),
        ("\"abc\"", None),
        ("true", None),
        ("\"1e400\"", None),
        (&"9".repeat(401), None),
    ];
    for (v, want) in cases {
        let out = run(config, &format!(r#"{{"event":"e","v":{v}}}"#), 0);
        let want: Vec<String> = want
            .into_iter()
            .map(|a| format!("INCRBYFLOAT adv:d:0:v:event:e {a}"))
            .collect();
        assert_eq!(out, want, "amount {v}");
    }
}

#[test]
fn commands_follow_type_then_config_order_with_sorted_names() {
    let config = r#"{"prefix":"app","time":{"storeHourly":true},"mapping":{
        "top":["z"],"bitmap":["uid"],"add":["z~event"],
        "addValue":[{"key":"z","addKey":"n"}]}}"#;
    let out = run(
        config,
        r#"{"event":"e","z":"q r","uid":"u","n":2}"#,
        3600 * 25,
    );
    assert_eq!(
        out,
        [
            "PFADD app:bmp:d:86400:uid u",
            "PFADD app:bmp:h:90000:uid u",
            "INCR app:add:d:86400:event~z:e~q r",
            "INCR app:add:h:90000:event~z:e~q r",
            "INCRBYFLOAT app:adv:d:86400:n:z:q r 2",
            "INCRBYFLOAT app:adv:h:90000:n:z:q r 2",
            "ZINCRBY app:top:d:86400:z 1 q r",
            "ZINCRBY app:top:h:90000:z 1 q r",
        ]
    );
}

#[test]
fn too_many_commands_reject_the_event() {
    let config = r#"{"time":{"storeHourly":true},"limits":{"maxMetricsPerEvent":1}}"#;
    assert_eq!(
        run(config, r#"{"event":"e"}"#, 0),
        ["!event produces 2 commands, more than limits.maxMetricsPerEvent (1)"]
    );
}

#[test]
fn event_time_from_the_event() {
    let s = r#"{"time":{"eventTimeField":"ts","timezone":"America/New_York"}}"#;
    let ms = r#"{"time":{"eventTimeField":"ts","eventTimeUnit":"ms"}}"#;
    let cases = [
        (s, r#""2024-11-03T01:30:00-04:00""#, "1730606400"),
        (s, r#""2024-11-03t06:30:00.999z""#, "1730606400"),
        (s, "1730615400", "1730606400"),
        (ms, "1730615400123", "1730592000"),
        (ms, "-1", "-86400"),
        (ms, "1730615400123.9", "1730592000"),
    ];
    for (config, ts, day) in cases {
        let out = run(config, &format!(r#"{{"event":"e","ts":{ts}}}"#), 0);
        assert_eq!(out, [format!("INCR add:d:{day}:event:e")], "ts {ts}");
    }
}

#[test]
fn config_errors_name_the_field() {
    let cases = [
        (
            r#"{"mapping":{"add":["a","b","event~~geo"]}}"#,
            "mapping.add[2]: pattern \"event~~geo\" has an empty part",
        ),
        (
            r#"{"mapping":{"add":["event~event"]}}"#,
            "mapping.add[0]: pattern \"event~event\" names \"event\" twice",
        ),
        (
            r#"{"mapping":{"top":["a~b","b~a"]}}"#,
            "mapping.top[1]: duplicate pattern \"b~a\"",
        ),
        (
            r#"{"time":{"timezone":"Mars/Base"}}"#,
            "time.timezone: unknown IANA time zone \"Mars/Base\"",
        ),
        (
            r#"{"mapping":{"bitmap":["a b"]}}"#,
            "mapping.bitmap[0]: pattern \"a b\": property name \"a b\" holds white space U+0020",
        ),
        (
            r#"{"limits":{"maxCombinations":1},"mapping":{"top":["x"]}}"#,
            "mapping: 2 patterns, more than limits.maxCombinations (1)",
        ),
    ];
    for (config, want) in cases {
        assert_eq!(Config::from_json(config).unwrap_err().0, want);
    }
    assert!(Config::from_json(r#"{"mapping":{"add":["x"],"top":["x"],"bitmap":["x"]}}"#).is_ok());
    assert!(Config::from_json(r#"{"mapping":{"ad":["x"]}}"#)
        .unwrap_err()
        .0
        .contains("unknown field"));
}

#[test]
fn hyperloglog_counts_equal_redis_pfcount() {
    // PFCOUNT answered by redis-server 7.0.15 after PFADD of
    // "element-0" .. "element-{n-1}".
    let redis = [
        (1, 1),
        (10, 10),
        (100, 100),
        (1000, 994),
        (20000, 19902),
        (100000, 100917),
    ];
    for (n, want) in redis {
        let mut regs = vec![0u8; traqq::hll::REGISTERS];
        for i in 0..n {
            traqq::hll::add(&mut regs, format!("element-{i}").as_bytes());
        }
        assert_eq!(traqq::hll::count(&regs), want, "{n} elements");
    }
    assert_eq!(traqq::hll::count(&vec![0u8; traqq::hll::REGISTERS]), 0);
}

#[test]
fn deep_names_are_refused_when_the_config_loads() {
    let deep = vec!["a"; 33].join(".");
    let err = Config::from_json(&format!(r#"{{"mapping":{{"add":["{deep}"]}}}}"#))
        .and_then(|c| Engine::new(c).map(|_| ()).map_err(Into::into))
        .err()
        .expect("refused");
    assert!(
        err.0.ends_with("nests more than 32 levels deep"),
        "{}",
        err.0
    );
}

#[test]
fn an_event_past_one_mib_of_commands_is_rejected_alone() {
    let add: Vec<String> = (0..200).map(|k| format!("\"event~v~q{k}\"")).collect();
    let config = format!(
        r#"{{"mapping":{{"add":[{}]}},"limits":{{"maxValueLength":10000}}}}"#,
        add.join(",")
    );
    let qs: Vec<String> = (0..200).map(|k| format!("\"q{k}\":1")).collect();
    let big = format!(
        r#"{{"event":"e","v":"{}",{}}}"#,
        "x".repeat(10_000),
        qs.join(",")
    );
    let out = run(
        &config,
        &format!("{big}\n{{\"event\":\"f\",\"v\":\"y\",\"q0\":1}}"),
        0,
    );
    assert_eq!(
        out,
        [
            "!event produces more than 1048576 bytes of commands",
            "INCR add:d:0:event~q0~v:f~1~y",
        ]
    );
}
