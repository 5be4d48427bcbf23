//! The caller's side of a script: whitespace-separated turns, digits (`1`, `12345#`), `-` for
//! silence until the gather times out, `say:текст` (or `say:"two words"`) for speech, `hangup`.

use crate::engine::matching::is_phone_key;

/// One turn of the caller: what they do when the IVR waits for them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Turn {
    Keys(String),
    Silence,
    Speech(String),
    Hangup,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScriptError {
    #[error("turn {index} `{turn}`: keys must be 0-9, * or #")]
    BadKeys { index: usize, turn: String },
    #[error("turn {index}: `say:` needs the words to say")]
    EmptySpeech { index: usize },
    #[error("unclosed quote in turn {index}")]
    Unclosed { index: usize },
    #[error(transparent)]
    BadTime(#[from] crate::calendar::BadTime),
}

/// Parses a caller script.
pub fn parse_script(text: &str) -> Result<Vec<Turn>, ScriptError> {
    let mut turns = Vec::new();
    let mut chars = text.chars().peekable();
    let mut index = 0;
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(turns);
        }
        index += 1;
        let mut word = String::new();
        let mut quoted = false;
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() && !quoted {
                break;
            }
            chars.next();
            if c == '"' {
                quoted = !quoted;
            } else {
                word.push(c);
            }
        }
        if quoted {
            return Err(ScriptError::Unclosed { index });
        }
        let turn = if word == "-" {
            Turn::Silence
        } else if word.eq_ignore_ascii_case("hangup") {
            Turn::Hangup
        } else if let Some(words) = word.strip_prefix("say:") {
            let words = words.replace('_', " ");
            if words.trim().is_empty() {
                return Err(ScriptError::EmptySpeech { index });
            }
            Turn::Speech(words)
        } else if word.chars().all(is_phone_key) {
            Turn::Keys(word)
        } else {
            return Err(ScriptError::BadKeys { index, turn: word });
        };
        turns.push(turn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts() {
        use Turn::*;
        assert_eq!(
            parse_script(" 1 - 0  12345# say:оператор say:\"поговорить с оператором\" say:a_b hangup").unwrap(),
            vec![
                Keys("1".into()),
                Silence,
                Keys("0".into()),
                Keys("12345#".into()),
                Speech("оператор".into()),
                Speech("поговорить с оператором".into()),
                Speech("a b".into()),
                Hangup
            ]
        );
        assert_eq!(parse_script("1 x"), Err(ScriptError::BadKeys { index: 2, turn: "x".into() }));
        assert_eq!(parse_script("say:"), Err(ScriptError::EmptySpeech { index: 1 }));
        assert_eq!(parse_script("say:\"open"), Err(ScriptError::Unclosed { index: 1 }));
        assert_eq!(parse_script("").unwrap(), vec![]);
    }
}
