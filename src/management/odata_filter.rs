//! The few OData `$filter` shapes Resource Manager and Microsoft Graph clients send for lookups:
//! clauses joined by `and`, each `field eq 'value'`, `startswith(field,'value')` or
//! `collection/any(x:x eq 'value')`. String literals are single-quoted with `''` for a quote.
//! What a clause means (which fields exist) is for the caller to decide.

/// One condition of a filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Clause {
    /// `field eq 'value'`
    Equals { field: String, value: String },
    /// `startswith(field,'value')`
    StartsWith { field: String, value: String },
    /// `collection/any(x:x eq 'value')`
    AnyEquals { collection: String, value: String },
}

/// Why a filter could not be read, for the error message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterSyntaxError(pub String);

/// The clauses of `filter`, all of which must hold.
pub fn parse(filter: &str) -> Result<Vec<Clause>, FilterSyntaxError> {
    let mut cursor = Cursor { rest: filter.trim() };
    let mut clauses = vec![cursor.clause()?];
    loop {
        cursor.skip_spaces();
        if cursor.rest.is_empty() {
            return Ok(clauses);
        }
        if !cursor.keyword("and") {
            return Err(FilterSyntaxError(crate::messages::management::filter_expected_and(cursor.rest)));
        }
        clauses.push(cursor.clause()?);
    }
}

struct Cursor<'a> {
    rest: &'a str,
}

impl Cursor<'_> {
    fn skip_spaces(&mut self) {
        self.rest = self.rest.trim_start();
    }

    /// Consumes `word` (case-insensitive) when it stands alone: followed by a space or the end.
    fn keyword(&mut self, word: &str) -> bool {
        self.skip_spaces();
        let Some(head) = self.rest.get(..word.len()) else { return false };
        let after = &self.rest[word.len()..];
        if head.eq_ignore_ascii_case(word) && (after.is_empty() || after.starts_with(' ')) {
            self.rest = after;
            return true;
        }
        false
    }

    fn symbol(&mut self, symbol: char) -> Result<(), FilterSyntaxError> {
        self.skip_spaces();
        match self.rest.strip_prefix(symbol) {
            Some(after) => {
                self.rest = after;
                Ok(())
            }
            None => Err(FilterSyntaxError(crate::messages::management::filter_expected_symbol(symbol, self.rest))),
        }
    }

    /// A property path: letters, digits, `_`, `.` and `/`.
    fn identifier(&mut self) -> Result<&str, FilterSyntaxError> {
        self.skip_spaces();
        let end = self
            .rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/')))
            .unwrap_or(self.rest.len());
        if end == 0 {
            return Err(FilterSyntaxError(crate::messages::management::filter_expected_property(self.rest)));
        }
        let (word, after) = self.rest.split_at(end);
        self.rest = after;
        Ok(word)
    }

    fn literal(&mut self) -> Result<String, FilterSyntaxError> {
        self.symbol('\'')?;
        let mut value = String::new();
        let mut chars = self.rest.char_indices();
        while let Some((i, c)) = chars.next() {
            if c != '\'' {
                value.push(c);
                continue;
            }
            if self.rest[i + 1..].starts_with('\'') {
                value.push('\'');
                chars.next();
                continue;
            }
            self.rest = &self.rest[i + 1..];
            return Ok(value);
        }
        Err(FilterSyntaxError(crate::messages::management::FILTER_UNCLOSED_STRING.into()))
    }

    fn clause(&mut self) -> Result<Clause, FilterSyntaxError> {
        let name = self.identifier()?.to_owned();
        self.skip_spaces();
        if name.eq_ignore_ascii_case("startswith") && self.rest.starts_with('(') {
            self.symbol('(')?;
            let field = self.identifier()?.to_owned();
            self.symbol(',')?;
            let value = self.literal()?;
            self.symbol(')')?;
            return Ok(Clause::StartsWith { field, value });
        }
        if let Some(collection) = name.strip_suffix("/any").or_else(|| name.strip_suffix("/ANY")) {
            let collection = collection.to_owned();
            self.symbol('(')?;
            let variable = self.identifier()?.to_owned();
            self.symbol(':')?;
            let used = self.identifier()?;
            if used != variable {
                return Err(FilterSyntaxError(crate::messages::management::filter_wrong_lambda_variable(
                    used, variable,
                )));
            }
            if !self.keyword("eq") {
                return Err(FilterSyntaxError(crate::messages::management::filter_expected_eq_at(self.rest)));
            }
            let value = self.literal()?;
            self.symbol(')')?;
            return Ok(Clause::AnyEquals { collection, value });
        }
        if !self.keyword("eq") {
            return Err(FilterSyntaxError(crate::messages::management::filter_expected_eq_after(name)));
        }
        let value = self.literal()?;
        Ok(Clause::Equals { field: name, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(field: &str, value: &str) -> Clause {
        Clause::Equals { field: field.into(), value: value.into() }
    }

    #[test]
    fn the_forms_clients_send_are_read() {
        assert_eq!(
            parse("resourceType eq 'Microsoft.KeyVault/vaults' and name eq 'cmk'").unwrap(),
            vec![eq("resourceType", "Microsoft.KeyVault/vaults"), eq("name", "cmk")]
        );
        assert_eq!(
            parse("servicePrincipalNames/any(c:c eq 'a17e69d4-8e1b')").unwrap(),
            vec![Clause::AnyEquals { collection: "servicePrincipalNames".into(), value: "a17e69d4-8e1b".into() }]
        );
        assert_eq!(
            parse("startswith(displayName,'adm') AND appId eq 'x'").unwrap(),
            vec![Clause::StartsWith { field: "displayName".into(), value: "adm".into() }, eq("appId", "x")]
        );
        assert_eq!(parse("  displayName  eq  'it''s'  ").unwrap(), vec![eq("displayName", "it's")]);
        assert_eq!(parse("name eq 'and' and name eq ''").unwrap(), vec![eq("name", "and"), eq("name", "")]);
    }

    #[test]
    fn anything_else_is_a_syntax_error() {
        for bad in [
            "",
            "name",
            "name eq cmk",
            "name eq 'cmk",
            "name ne 'cmk'",
            "name eq 'a' or name eq 'b'",
            "name eq 'a' and",
            "servicePrincipalNames/any(c:d eq 'x')",
            "servicePrincipalNames/any(c:c eq 'x'",
            "startswith(displayName 'x')",
            "name eq 'a' extra",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
