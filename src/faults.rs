//! Fault injection for users' own retry tests (`POST /_emulator/faults`): the next N requests to
//! a vault, optionally only those of one operation, fail with 429 (and `Retry-After`), 500 or
//! 503 instead of running. Rules are consumed in the order they were added; nothing persists.

use std::sync::Mutex;

use crate::auth::table::{Operation, TABLE};

/// How an injected failure answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultResponse {
    pub status: u16,
    /// Seconds for the `Retry-After` header, when the status carries one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u32>,
}

/// One rule: which requests, how many more, and the answer.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRule {
    pub id: u64,
    pub vault: String,
    /// The operation name as the authorization table spells it (`UnwrapKey`); `None` for any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    pub remaining: u32,
    #[serde(flatten)]
    pub response: FaultResponse,
    #[serde(skip)]
    matches: Option<Operation>,
}

/// The statuses a rule may inject: what SDK retry policies are meant to absorb.
pub const INJECTABLE_STATUSES: [u16; 3] = [429, 500, 503];
pub const MAX_COUNT: u32 = 10_000;
pub const MAX_RETRY_AFTER: u32 = 3_600;

/// A vault operation by the name the authorization table gives it, in any case (`unwrapKey`).
#[must_use]
pub fn operation_named(name: &str) -> Option<Operation> {
    TABLE.iter().map(|(op, _, _, _)| *op).find(|op| format!("{op:?}").eq_ignore_ascii_case(name))
}

#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<(u64, Vec<FaultRule>)>,
}

impl Faults {
    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, Vec<FaultRule>)> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a rule after validating it; returns it with its id.
    pub fn add(
        &self,
        vault: &str,
        operation: Option<&str>,
        count: u32,
        status: u16,
        retry_after: Option<u32>,
    ) -> Result<FaultRule, String> {
        if !(1..=MAX_COUNT).contains(&count) {
            return Err(crate::messages::emulator::fault_count_out_of_range(MAX_COUNT));
        }
        if !INJECTABLE_STATUSES.contains(&status) {
            return Err(crate::messages::emulator::FAULT_STATUS_NOT_INJECTABLE.into());
        }
        if retry_after.is_some_and(|seconds| seconds > MAX_RETRY_AFTER) {
            return Err(crate::messages::emulator::fault_retry_after_too_long(MAX_RETRY_AFTER));
        }
        let matches = match operation {
            Some(name) => Some(operation_named(name).ok_or_else(|| {
                let names: Vec<String> = TABLE.iter().map(|(op, _, _, _)| format!("{op:?}")).collect();
                crate::messages::emulator::fault_operation_unknown(name, &names.join(", "))
            })?),
            None => None,
        };
        // 429 always tells the client when to come back, as Key Vault's throttling does.
        let retry_after = if status == 429 { Some(retry_after.unwrap_or(1)) } else { retry_after };
        let mut state = self.lock();
        state.0 += 1;
        let rule = FaultRule {
            id: state.0,
            vault: vault.to_ascii_lowercase(),
            operation: matches.map(|op| format!("{op:?}")),
            remaining: count,
            response: FaultResponse { status, retry_after },
            matches,
        };
        state.1.push(rule.clone());
        Ok(rule)
    }

    /// The failure the next request of `operation` on `vault` must answer with, if a rule
    /// still applies to it; consumes one of that rule's requests.
    pub fn take(&self, vault: &str, operation: Operation) -> Option<FaultResponse> {
        let mut state = self.lock();
        let rules = &mut state.1;
        let index = rules.iter().position(|rule| {
            rule.vault.eq_ignore_ascii_case(vault) && rule.matches.is_none_or(|wanted| wanted == operation)
        })?;
        let rule = &mut rules[index];
        rule.remaining -= 1;
        let response = rule.response;
        if rule.remaining == 0 {
            rules.remove(index);
        }
        Some(response)
    }

    #[must_use]
    pub fn pending(&self) -> Vec<FaultRule> {
        self.lock().1.clone()
    }

    pub fn clear(&self) {
        self.lock().1.clear();
    }

    /// Whether any rule is pending: the request path skips the lock when none is.
    #[must_use]
    pub fn any(&self) -> bool {
        !self.lock().1.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_apply_in_order_to_their_vault_and_operation_then_expire() {
        let faults = Faults::default();
        faults.add("cmk", Some("unwrapKey"), 2, 503, None).unwrap();
        faults.add("cmk", None, 1, 429, None).unwrap();
        assert_eq!(faults.take("other", Operation::UnwrapKey), None);
        assert_eq!(faults.take("CMK", Operation::UnwrapKey), Some(FaultResponse { status: 503, retry_after: None }));
        // Not an unwrap: the second rule (any operation) answers, with the default Retry-After.
        assert_eq!(faults.take("cmk", Operation::GetKey), Some(FaultResponse { status: 429, retry_after: Some(1) }));
        assert_eq!(faults.take("cmk", Operation::GetKey), None);
        assert_eq!(faults.take("cmk", Operation::UnwrapKey), Some(FaultResponse { status: 503, retry_after: None }));
        assert_eq!(faults.take("cmk", Operation::UnwrapKey), None);
        assert!(!faults.any());
    }

    #[test]
    fn bad_rules_are_refused_with_a_reason() {
        let faults = Faults::default();
        assert!(faults.add("v", None, 0, 429, None).unwrap_err().contains("count"));
        assert!(faults.add("v", None, 1, 404, None).unwrap_err().contains("status"));
        assert!(faults.add("v", None, 1, 429, Some(99_999)).unwrap_err().contains("retryAfter"));
        assert!(faults.add("v", Some("explode"), 1, 500, None).unwrap_err().contains("UnwrapKey"));
        assert_eq!(operation_named("wrapkey"), Some(Operation::WrapKey));
    }
}
