//! Plausible Chinese names and phone numbers for generated users.

use rand::Rng;

const SURNAMES: [&str; 24] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋",
];
const GIVEN: [&str; 32] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "刚", "桂英", "建华", "晓东", "文", "华", "红", "玉兰", "志强",
    "海燕", "小红", "国庆",
];

/// A name like `王伟`.
pub fn name(rng: &mut impl Rng) -> String {
    let s = SURNAMES[rng.random_range(0..SURNAMES.len())];
    let g = GIVEN[rng.random_range(0..GIVEN.len())];
    format!("{s}{g}")
}

/// An 11-digit mainland mobile number.
pub fn mobile(rng: &mut impl Rng) -> String {
    const PREFIXES: [&str; 8] = ["138", "139", "186", "135", "150", "177", "188", "159"];
    let p = PREFIXES[rng.random_range(0..PREFIXES.len())];
    format!("{p}{:08}", rng.random_range(0..100_000_000u32))
}

/// hfb's bind code: 32 hex characters.
pub fn bind_code(rng: &mut impl Rng) -> String {
    let a: u128 = rng.random();
    format!("{a:032x}")
}
