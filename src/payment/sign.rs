//! hfb's `SignUtil.getSign` (SPEC §2.4): drop `sign`, sort by key, each value
//! followed by `|`, then the key `9876543210`, MD5, lowercase hex.

use md5::{Digest as _, Md5};
use std::collections::BTreeMap;

/// The shared sign key of the seed system.
pub const SIGN_KEY: &str = "9876543210";

/// The exact string that is hashed (exposed for tests and for explaining a bad sign).
pub fn sign_source(params: &BTreeMap<String, String>) -> String {
    // BTreeMap iterates in byte order of the keys, which for hfb's ASCII keys is
    // Java TreeMap's order.
    let mut s = String::new();
    for (k, v) in params {
        if k == "sign" {
            continue;
        }
        s.push_str(v);
        s.push('|');
    }
    s.push_str(SIGN_KEY);
    s
}

/// The sign hfb computes for `params`.
pub fn get_sign(params: &BTreeMap<String, String>) -> String {
    hex::encode(Md5::digest(sign_source(params).as_bytes()))
}

/// Whether `params["sign"]` is the right sign (an absent sign is wrong).
pub fn verify_sign(params: &BTreeMap<String, String>) -> bool {
    params.get("sign").is_some_and(|s| *s == get_sign(params))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    // Expected digests were computed outside this code, with
    // `printf '%s' '<source>' | md5sum`, from the source string worked out by
    // hand from SPEC §2.4.
    #[test]
    fn notify_vector_with_chinese_value() {
        let p = params(&[
            ("resultCode", "0001"),
            ("resultMsg", "充值成功"),
            ("agentBillNo", "CHARGE20210321223929123"),
            ("bindCode", "abc"),
            ("chargeAmt", "100.00"),
            ("mchFee", "0"),
            ("hyFee", "0"),
            ("timestamp", "1616337569000"),
            ("sign", "ignored-when-signing"),
        ]);
        assert_eq!(
            sign_source(&p),
            "CHARGE20210321223929123|abc|100.00|0|0|0001|充值成功|1616337569000|9876543210"
        );
        assert_eq!(get_sign(&p), "cf27d39eceaad72f526bca87d9c7d39a");
    }

    #[test]
    fn keys_sorted_values_piped_then_key() {
        // "b" sorts after "a" whatever the insertion order.
        let p = params(&[("b", "2"), ("a", "1")]);
        assert_eq!(sign_source(&p), "1|2|9876543210");
        assert_eq!(get_sign(&p), "fd838f137520758ccd54edd27ef2f015");
        assert_eq!(get_sign(&params(&[])), "e388c1c5df4933fa01f6da9f92595589");
    }

    #[test]
    fn verify_accepts_right_and_refuses_wrong_or_missing_sign() {
        let mut p = params(&[("b", "2"), ("a", "1")]);
        assert!(!verify_sign(&p), "a missing sign must not verify");
        p.insert("sign".into(), "fd838f137520758ccd54edd27ef2f015".into());
        assert!(verify_sign(&p));
        p.insert("sign".into(), "FD838F137520758CCD54EDD27EF2F015".into());
        assert!(!verify_sign(&p), "hfb compares the lowercase hex exactly");
        p.insert("sign".into(), "fd838f137520758ccd54edd27ef2f015".into());
        p.insert("a".into(), "9".into());
        assert!(!verify_sign(&p), "a changed value must break the sign");
    }
}
