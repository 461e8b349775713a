//! Every text a client can read in an error answer, in one catalogue, one file per plane. The
//! domain (`keys`, `vaults`, `management`, `auth`) builds its errors from here as the HTTP layer
//! does, so this module imports nothing of `api`.
//!
//! Tags follow `keys-api-contract.md`: [rec] recorded from the real service, [sdk]/[ext] quoted
//! by SDK guides or third parties, [unverified] our best guess, kept here so it can change.
//! Texts without a tag are the emulator's own wording for a case the real service has no
//! counterpart for.

pub mod crypto;
pub mod data_plane;
pub mod emulator;
pub mod front_door;
pub mod graph;
pub mod keys;
pub mod login;
pub mod managed_hsm;
pub mod managed_identity;
pub mod management;
pub mod token_reasons;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    /// The string literals of a file's shipped code (before its tests), with `\`-continued
    /// lines joined as the compiler joins them.
    fn literals(code: &str) -> Vec<String> {
        let code = code.split("#[cfg(test)]").next().unwrap_or(code);
        let mut found = Vec::new();
        let mut chars = code.chars().peekable();
        while let Some(ch) = chars.next() {
            if ch == '/' && chars.peek() == Some(&'/') {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                continue;
            }
            if ch != '"' {
                continue;
            }
            let mut text = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => match chars.next() {
                        Some('\n') => {
                            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                                chars.next();
                            }
                        }
                        Some(escaped) => {
                            text.push('\\');
                            text.push(escaped);
                        }
                        None => {}
                    },
                    _ => text.push(c),
                }
            }
            found.push(text);
        }
        found
    }

    /// Two entries with the same text are one message under two names: the next change would
    /// update one of them. Short literals (inner codes, separators) may repeat.
    #[test]
    fn no_text_is_in_the_catalogue_twice() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/messages");
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n == "mod.rs") {
                continue;
            }
            files += 1;
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            for text in literals(&std::fs::read_to_string(&path).unwrap()) {
                if text.len() < 24 {
                    continue;
                }
                if let Some(first) = seen.insert(text.clone(), file.clone()) {
                    panic!("the text {text:?} is in the catalogue twice ({first} and {file})");
                }
            }
        }
        assert!(files >= 3 && seen.len() > 40, "the walk found the catalogue: {files} files, {} texts", seen.len());
    }

    /// Every layer, `crypto` included, may build its errors from here, so the catalogue itself
    /// stands on nothing of ours: no import circle can run through it.
    #[test]
    fn the_catalogue_imports_nothing_of_ours() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/messages");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or(&text);
            assert!(
                !code
                    .lines()
                    .any(|l| !l.trim_start().starts_with("//") && (l.contains("crate::") || l.contains("super::"))),
                "{} imports from the crate",
                path.display()
            );
        }
    }

    #[test]
    fn the_scan_reads_literals_as_the_compiler_does() {
        let code = "const A: &str = \"one \\\n      two\"; // \"not this\"\nfn f() { g(\"x\\\"y\") }";
        assert_eq!(literals(code), ["one two", "x\\\"y"]);
    }
}
