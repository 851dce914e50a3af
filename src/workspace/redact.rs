//! Defensive password stripping for everything the workspace stores.
//!
//! Callers already pass redacted URLs; this is the second line of defence
//! (SPEC §8: passwords never appear in the workspace).

use serde_json::Value;

/// The mask that replaces a password.
const MASK: &str = "***";

/// Parameter names whose values are secrets (compared case-insensitively).
const SECRET_KEYS: &[&str] = &["password", "passwd", "pwd", "pass", "secret"];

/// Removes anything that looks like a password from `text`:
/// `scheme://user:secret@host` → `scheme://user:***@host`, the same without a
/// scheme (`user:secret@host/db`), and `password=secret` (also `pwd`,
/// `passwd`, `pass`, `secret`; `=` or `:` with optional spaces) → `password=***`.
/// Text without such a pattern is returned unchanged; stripping twice changes
/// nothing more.
pub fn strip_passwords(text: &str) -> String {
    // Both patterns need an '@' or a secret key's word; most texts (every
    // finding's detail) have neither, and are stored for each of up to
    // millions of findings.
    if !text.contains('@') && !mentions_secret_key(text) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // Whitespace-separated tokens keep the whitespace between them.
    while !rest.is_empty() {
        let ws = rest
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(rest.len());
        out.push_str(&rest[..ws]);
        rest = &rest[ws..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        out.push_str(&strip_userinfo(&rest[..end]));
        rest = &rest[end..];
    }
    strip_key_values(&out)
}

/// Whether `text` contains, in any case, the first three letters of a
/// [`SECRET_KEYS`] entry (each is at least three letters long).
fn mentions_secret_key(text: &str) -> bool {
    text.as_bytes().windows(3).any(|w| {
        SECRET_KEYS.iter().any(|k| {
            k.as_bytes()
                .get(..3)
                .is_some_and(|p| w.eq_ignore_ascii_case(p))
        })
    })
}

/// `user:secret@` inside one whitespace-free token.
fn strip_userinfo(token: &str) -> String {
    let (prefix, after) = match token.find("://") {
        Some(s) => token.split_at(s + 3),
        None => ("", token),
    };
    // The authority ends at the query or fragment; '@' after that is not userinfo.
    let limit = after.find(['?', '#']).unwrap_or(after.len());
    let Some(at) = after[..limit].rfind('@') else {
        return token.to_owned();
    };
    let userinfo = &after[..at];
    // A path (sqlite:///home/a@b/x.db) is not userinfo.
    if userinfo.is_empty() || userinfo.starts_with('/') || userinfo.starts_with('\\') {
        return token.to_owned();
    }
    // Without a scheme, only `user:pass@` directly at the start of the token.
    if prefix.is_empty() && userinfo.contains(['/', '(', '"', '\'', '=']) {
        return token.to_owned();
    }
    let Some(colon) = userinfo.find(':') else {
        return token.to_owned();
    };
    if &userinfo[colon + 1..] == MASK {
        return token.to_owned();
    }
    format!("{prefix}{}:{MASK}{}", &userinfo[..colon], &after[at..])
}

/// `password=secret` and friends, anywhere in `text`.
fn strip_key_values(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let hit = SECRET_KEYS
            .iter()
            .find(|k| lower.as_bytes()[i..].starts_with(k.as_bytes()));
        let Some(key) = hit else {
            i += 1;
            continue;
        };
        let boundary_before = i == 0 || !is_word_byte(bytes[i - 1]);
        let mut j = i + key.len();
        if !boundary_before || (j < bytes.len() && is_word_byte(bytes[j])) {
            i += 1;
            continue;
        }
        // Optional quote closing a JSON-ish key, spaces, then '=' or ':'.
        if j < bytes.len() && (bytes[j] == b'"' || bytes[j] == b'\'') {
            j += 1;
        }
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        if j >= bytes.len() || (bytes[j] != b'=' && bytes[j] != b':') {
            i += 1;
            continue;
        }
        j += 1;
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        let quote = match bytes.get(j) {
            Some(&q) if q == b'"' || q == b'\'' => {
                j += 1;
                Some(q)
            }
            _ => None,
        };
        let start = j;
        while j < bytes.len() {
            let b = bytes[j];
            let stop = match quote {
                Some(q) => b == q,
                None => {
                    matches!(b, b'&' | b';' | b',' | b' ' | b'\t' | b'\n' | b'\r' | b'"')
                        || b == b'\''
                }
            };
            if stop {
                break;
            }
            j += 1;
        }
        // All delimiters are ASCII, so `start` and `j` are on char boundaries.
        let value = &text[start..j];
        if !value.is_empty() && value != MASK {
            out.push_str(&text[copied..start]);
            out.push_str(MASK);
            copied = j;
        }
        i = j.max(i + 1);
    }
    out.push_str(&text[copied..]);
    out
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A copy of `v` with every string passed through [`strip_passwords`] and
/// the value of every secret-named key (`password`, `pwd`, …) masked.
pub fn redact_json(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(strip_passwords(s)),
        Value::Array(a) => Value::Array(a.iter().map(redact_json).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let secret = SECRET_KEYS.iter().any(|s| k.eq_ignore_ascii_case(s));
                    let v = if secret && !v.is_null() {
                        Value::String(MASK.to_owned())
                    } else {
                        redact_json(v)
                    };
                    (strip_passwords(k), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quick_test_notices_every_secret_key() {
        for k in SECRET_KEYS {
            for text in [k.to_string(), k.to_uppercase(), format!("x {k}=v")] {
                assert!(mentions_secret_key(&text), "{text}");
                assert!(
                    strip_passwords(&format!("{text}=v")).ends_with("=***"),
                    "{text}"
                );
            }
        }
        assert!(!mentions_secret_key(
            "流水 CHARGE1 金额 12.50 与账单 12.51 不符"
        ));
        let plain = "balance 12.50, flows say 11.50: 1.00 more";
        assert_eq!(strip_passwords(plain), plain);
    }

    #[test]
    fn strips_userinfo_passwords() {
        let cases = [
            (
                "postgres://alice:s3cret@db:5432/pay",
                "postgres://alice:***@db:5432/pay",
            ),
            ("mysql://u:p@ss@h/d", "mysql://u:***@h/d"),
            ("mysql://u:pa/ss@h/d", "mysql://u:***@h/d"),
            ("postgres://alice:***@db/pay", "postgres://alice:***@db/pay"),
            ("postgres://alice@db/pay", "postgres://alice@db/pay"),
            ("sqlite:///home/a@b/x.db", "sqlite:///home/a@b/x.db"),
            ("/home/a:b@c/x.db", "/home/a:b@c/x.db"),
            ("demo.sqlite", "demo.sqlite"),
            ("alice:pw@host/db", "alice:***@host/db"),
            (
                "could not connect to postgres://a:zz@h/d: refused",
                "could not connect to postgres://a:***@h/d: refused",
            ),
            ("postgres://h/d?x=a:b@c", "postgres://h/d?x=a:b@c"),
        ];
        for (i, o) in cases {
            assert_eq!(strip_passwords(i), o, "{i}");
            assert_eq!(strip_passwords(o), o, "idempotent {o}");
        }
    }

    #[test]
    fn strips_key_values() {
        let cases = [
            (
                "host=h password=s3cret dbname=d",
                "host=h password=*** dbname=d",
            ),
            (
                "postgres://h/d?user=u&password=x1&ssl=1",
                "postgres://h/d?user=u&password=***&ssl=1",
            ),
            ("Server=h;Pwd=x;Db=d", "Server=h;Pwd=***;Db=d"),
            ("password = 'a b'", "password = '***'"),
            (r#"{"password":"x"}"#, r#"{"password":"***"}"#),
            (
                "bypass=1 passport=2 compass: 3",
                "bypass=1 passport=2 compass: 3",
            ),
            ("the password was wrong", "the password was wrong"),
            ("密码 password=秘密,x", "密码 password=***,x"),
        ];
        for (i, o) in cases {
            assert_eq!(strip_passwords(i), o, "{i}");
            assert_eq!(strip_passwords(o), o, "idempotent {o}");
        }
    }

    #[test]
    fn redacts_json() {
        let v = serde_json::json!({
            "url": "postgres://a:b@h/d",
            "Password": "x",
            "nested": [{"pwd": 3}, "mysql://u:v@h/d"],
            "n": 1
        });
        let r = redact_json(&v);
        assert_eq!(
            r,
            serde_json::json!({
                "url": "postgres://a:***@h/d",
                "Password": "***",
                "nested": [{"pwd": "***"}, "mysql://u:***@h/d"],
                "n": 1
            })
        );
    }
}
