//! What spreadsheets typed by people hold besides the value: full-width digits and
//! letters (ＡＢＣ１２３ from a Chinese input method), ideographic and no-break spaces,
//! zero-width characters pasted from web pages.

/// Full-width ASCII (U+FF01–U+FF5E) as ASCII, every kind of space as a plain space,
/// zero-width characters removed, trimmed.
pub fn clean(raw: &str) -> String {
    let mapped: String = raw
        .chars()
        .filter(|c| !matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}'))
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => {
                char::from_u32(u32::from(c) - 0xFF01 + 0x21).expect("maps into ASCII")
            }
            c if c.is_whitespace() => ' ',
            c => c,
        })
        .collect();
    mapped.trim().to_owned()
}

/// [`clean`] without any space inside: for numbers people group as they please.
pub fn compact(raw: &str) -> String {
    clean(raw).chars().filter(|c| *c != ' ').collect()
}

/// A name as it goes on the card. Chinese names are often padded inside to line up in a
/// column (`张  三`): those spaces go. Latin names keep single spaces between words.
pub fn name(raw: &str) -> String {
    let cleaned = clean(raw);
    let words: Vec<&str> = cleaned.split(' ').filter(|w| !w.is_empty()).collect();
    if words.iter().all(|w| w.chars().all(is_han)) {
        words.concat()
    } else {
        words.join(" ")
    }
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{3134F}' | '·')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_and_invisible_characters_are_cleaned() {
        assert_eq!(
            clean("\u{3000}１３８ １２３４\u{00A0}５６７８ "),
            "138 1234 5678"
        );
        assert_eq!(
            compact("１１０１０５１９４９１２３１００２ｘ"),
            "11010519491231002x"
        );
        assert_eq!(clean("\u{FEFF}张三\u{200B}"), "张三");
        assert_eq!(clean("Ａ"), "A");
    }

    #[test]
    fn names_lose_padding_but_not_word_breaks() {
        assert_eq!(name(" 张  三 "), "张三");
        assert_eq!(name("张\u{3000}三"), "张三");
        assert_eq!(name("阿依古丽·买买提"), "阿依古丽·买买提");
        assert_eq!(name(" Anna   Schmidt "), "Anna Schmidt");
    }
}
