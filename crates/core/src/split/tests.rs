use proptest::prelude::*;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::{Malformed, Masks, classify, classify_bytes, container_end, prefix_xor, scan};

fn records(body: &[u8]) -> Result<Vec<&str>, Malformed> {
    super::records(body).collect()
}

/// What serde_json finds in the same body, element by element.
fn serde_split(body: &str) -> Option<Vec<&str>> {
    serde_json::from_str::<Vec<&RawValue>>(body)
        .ok()
        .map(|r| r.iter().map(|v| v.get()).collect())
}

fn same_as_serde(body: &str) {
    assert_eq!(records(body.as_bytes()).ok(), serde_split(body), "{body:?}");
}

/// Text that stresses the string scan: quotes, backslash runs, brackets, control
/// characters and multi-byte UTF-8 all come out of the serializer escaped or raw.
fn text() -> impl Strategy<Value = String> {
    "[a-c\"\\\\{}\\[\\]:, \t\né€😀\u{1}]{0,24}"
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn record() -> impl Strategy<Value = Value> {
    prop::collection::vec((text(), value()), 0..8)
        .prop_map(|kv| Value::Object(kv.into_iter().collect()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arrays_of_records_split_as_serde_json_does(items in prop::collection::vec(record(), 0..12), pretty in any::<bool>()) {
        let array = Value::Array(items);
        let body = if pretty { serde_json::to_string_pretty(&array) } else { serde_json::to_string(&array) }.unwrap();
        let got = records(body.as_bytes()).unwrap();
        prop_assert_eq!(Some(got), serde_split(&body));
    }

    /// Each element comes with its own bytes folded, whatever its kind, size or place.
    #[test]
    fn each_element_comes_folded(items in prop::collection::vec(value(), 0..12), pretty in any::<bool>()) {
        let array = Value::Array(items);
        let body = if pretty { serde_json::to_string_pretty(&array) } else { serde_json::to_string(&array) }.unwrap();
        let mut split = super::records(body.as_bytes());
        while let Some(element) = split.next() {
            let folded: Vec<u8> = element.unwrap().bytes().map(|c| c | 0x20).collect();
            prop_assert_eq!(split.folded(), &folded[..]);
        }
    }

    #[test]
    fn elements_of_any_kind_split_as_serde_json_does(items in prop::collection::vec(value(), 0..12)) {
        same_as_serde(&serde_json::to_string_pretty(&Value::Array(items)).unwrap());
    }

    #[test]
    fn every_cut_of_a_body_is_rejected(items in prop::collection::vec(record(), 1..4)) {
        let body = serde_json::to_string(&Value::Array(items)).unwrap();
        for cut in 0..body.len() {
            prop_assert!(records(&body.as_bytes()[..cut]).is_err(), "accepted {:?}", &body[..cut]);
        }
    }

    /// An element skips the UTF-8 check only when it is all ASCII, and one that is does.
    #[test]
    fn only_ascii_elements_skip_the_utf8_check(item in record()) {
        let body = serde_json::to_string(&item).unwrap();
        prop_assert_eq!(container_end(body.as_bytes(), 0, &mut Vec::new()).unwrap(), (body.len(), body.is_ascii()));
    }

    #[test]
    fn the_vector_classifier_agrees_with_the_portable_one(block in prop::array::uniform32(any::<u8>()), other in prop::array::uniform32(any::<u8>())) {
        let mut whole = [0u8; 64];
        whole[..32].copy_from_slice(&block);
        whole[32..].copy_from_slice(&other);
        let classified = |f: fn(&[u8; 64], &mut [u8; 64]) -> Masks| {
            let mut folded = [0; 64];
            (f(&whole, &mut folded), folded)
        };
        let portable = classified(classify_bytes);
        prop_assert_eq!(portable.1, whole.map(|c| c | 0x20));
        prop_assert_eq!(&classified(classify), &portable);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            prop_assert_eq!(&classified(|b, f| unsafe { super::classify_avx2(b, f) }), &portable);
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn one_multiplication_finds_the_strings_the_shifts_find(quotes in any::<u64>()) {
        if std::arch::is_x86_feature_detected!("pclmulqdq") {
            // SAFETY: the CPU has carry-less multiplication, checked just above.
            prop_assert_eq!(unsafe { super::prefix_xor_clmul(quotes) }, prefix_xor(quotes));
        }
    }

    /// The scan a CPU without AVX2 runs ends each element where this CPU's does, and
    /// rejects the same cuts with the same error.
    #[test]
    fn the_portable_scan_agrees_with_the_one_this_cpu_runs(item in record(), pretty in any::<bool>()) {
        let body = if pretty { serde_json::to_string_pretty(&item) } else { serde_json::to_string(&item) }.unwrap();
        let body = body.as_bytes();
        for cut in (0..=body.len()).rev() {
            prop_assert_eq!(
                format!("{:?}", scan::<false>(&body[..cut], 0, &mut Vec::new())),
                format!("{:?}", container_end(&body[..cut], 0, &mut Vec::new()))
            );
        }
    }
}

#[test]
fn backslash_runs_and_quotes_across_block_edges() {
    for pad in 0..140 {
        for run in 0..6 {
            let s = format!("{}{}\"}}]", "x".repeat(pad), "\\".repeat(run));
            let body =
                serde_json::to_string(&json!([{ "k": s, "n": [{ "m": s }] }, { "k": 1 }])).unwrap();
            same_as_serde(&body);
            // The same bytes left raw: an odd run escapes the quote, an even run does not.
            let raw = format!("[{{\"k\":\"{}{}\"}}]", "x".repeat(pad), "\\".repeat(run));
            same_as_serde(&raw);
        }
    }
}

/// The scan tells an element that is all ASCII from one that is not, wherever the first
/// byte that is not falls: in the element's first block, a later one, or the block
/// where the element ends and the next begins.
#[test]
fn bytes_that_are_not_utf8_are_found_in_every_block() {
    for pad in 0..140 {
        let x = "x".repeat(pad);
        for body in [
            format!("[{{\"k\":\"{x}\u{ff}\"}},{{\"k\":1}}]"),
            format!("[{{\"k\":\"{x}\"}},{{\"k\":\"\u{ff}\"}}]"),
            format!("[{{\"k\":[\"{x}\"]}},{{\"k\":\"\u{c3}\"}}]"),
        ] {
            let body: Vec<u8> = body.chars().map(|c| c as u32 as u8).collect();
            assert!(
                matches!(
                    records(&body),
                    Err(Malformed::Shape("text that is not UTF-8", _))
                ),
                "{pad}: {:?}",
                String::from_utf8_lossy(&body)
            );
        }
        same_as_serde(&format!("[{{\"k\":\"{x}é\"}},{{\"k\":\"😀\"}},{{}}]"));
    }
}

#[test]
fn a_small_array_is_rejected_at_every_cut() {
    let body = r#"[{"a":"x\"}]","b":[1,{"c":"\\"}],"d":"é😀"},{"e":[]},"s",3,null]"#;
    assert_eq!(records(body.as_bytes()).unwrap().len(), 5);
    for cut in 0..body.len() {
        assert!(
            records(&body.as_bytes()[..cut]).is_err(),
            "accepted {:?}",
            &body.as_bytes()[..cut]
        );
    }
}

#[test]
fn malformed_bodies_are_rejected() {
    let bad: [&[u8]; 17] = [
        b"",
        b"  ",
        b"{}",
        b"x[]",
        b"[{}",
        b"[{}]x",
        b"[{}] []",
        b"[{},]",
        b"[,{}]",
        b"[{}{}]",
        b"[{} {}]",
        b"[{]}",
        b"[[}]",
        b"[{\"a\":\"]}",
        b"[{\"a\":1}}]",
        b"[tru]",
        b"[{\"a\":\"\xff\"}]",
    ];
    for body in bad {
        assert!(
            records(body).is_err(),
            "accepted {:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn any_depth_is_split_as_serde_json_does() {
    for depth in [1, 63, 64, 65, 127, 128, 129, 200, 1000] {
        let arrays = format!("[{}{}]", "[".repeat(depth), "]".repeat(depth));
        let mixed = format!("[{}1{}]", "{\"a\":[".repeat(depth), "]}".repeat(depth));
        same_as_serde(&arrays);
        same_as_serde(&mixed);
        let wrong = format!("[{}1{}]", "{\"a\":[".repeat(depth), "}]".repeat(depth));
        assert!(
            matches!(
                records(wrong.as_bytes()),
                Err(Malformed::Shape("mismatched bracket", _))
            ),
            "{depth}"
        );
    }
}

#[test]
fn whitespace_and_empty_arrays_are_accepted() {
    for body in [
        "[]",
        " [ ] \n",
        "\t[\r\n{ } ,\n[ ]\n]\n",
        "[\"a\" , 1,{\"b\":\"\\\\\"}]",
    ] {
        same_as_serde(body);
    }
}
