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
