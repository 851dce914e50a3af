//! Chinese and English: every label is written once in each language, side
//! by side where it is used (`lang.t("对账", "Reconcile")`), so that neither
//! can be forgotten.

/// The console's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// 简体中文.
    Zh,
    /// English.
    En,
}

impl Lang {
    /// The system locale's language: Chinese when `LC_ALL`, `LC_MESSAGES` or
    /// `LANG` (the first that is set) starts with `zh`, English otherwise.
    pub fn from_env() -> Self {
        let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .find(|v| !v.is_empty())
            .unwrap_or_default();
        Self::from_locale(&locale)
    }

    /// The language of a locale name such as `zh_CN.UTF-8` or `en_US`.
    pub fn from_locale(locale: &str) -> Self {
        if locale.to_ascii_lowercase().starts_with("zh") {
            Self::Zh
        } else {
            Self::En
        }
    }

    /// Parses `zh` / `en` (as given on the command line).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "zh_cn" | "cn" | "中文" => Some(Self::Zh),
            "en" | "english" => Some(Self::En),
            _ => None,
        }
    }

    /// Picks the text of this language.
    pub fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Self::Zh => zh,
            Self::En => en,
        }
    }

    /// The other language (the switch in the top bar).
    pub fn other(self) -> Self {
        match self {
            Self::Zh => Self::En,
            Self::En => Self::Zh,
        }
    }

    /// The switch's label: the other language, in itself.
    pub fn switch_label(self) -> &'static str {
        match self {
            Self::Zh => "English",
            Self::En => "中文",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_names() {
        assert_eq!(Lang::from_locale("zh_CN.UTF-8"), Lang::Zh);
        assert_eq!(Lang::from_locale("zh_TW"), Lang::Zh);
        assert_eq!(Lang::from_locale("en_US.UTF-8"), Lang::En);
        assert_eq!(Lang::from_locale("C"), Lang::En);
        assert_eq!(Lang::from_locale(""), Lang::En);
        assert_eq!(Lang::parse("ZH"), Some(Lang::Zh));
        assert_eq!(Lang::parse("fr"), None);
        assert_eq!(Lang::Zh.t("对账", "Reconcile"), "对账");
        assert_eq!(Lang::En.t("对账", "Reconcile"), "Reconcile");
    }
}
