//! Rotation policies (contract §5 items 21–23): validation, the default policy, and when a
//! policy's Rotate action is due on the emulator clock.

use serde::{Deserialize, Serialize};

use super::Error;
use super::model::Key;
use crate::clock::{UnixSeconds, parse_iso8601_duration};

/// The shortest `expiryTime` the service accepts (spec text: "at least 28 days").
pub const MIN_EXPIRY_SECONDS: i64 = 28 * 86_400;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifetimeTrigger {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_after_create: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_before_expiry: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifetimeActionType {
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifetimeAction {
    pub trigger: LifetimeTrigger,
    pub action: LifetimeActionType,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyAttributes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<UnixSeconds>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<UnixSeconds>,
}

/// A rotation policy in the shape the API exchanges (the `id` is added on the way out).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RotationPolicy {
    #[serde(default)]
    pub lifetime_actions: Vec<LifetimeAction>,
    #[serde(default)]
    pub attributes: PolicyAttributes,
}

const ROTATE: &str = "Rotate";
const NOTIFY: &str = "Notify";

fn notify_before_expiry(duration: &str) -> LifetimeAction {
    LifetimeAction {
        trigger: LifetimeTrigger { time_after_create: None, time_before_expiry: Some(duration.to_owned()) },
        action: LifetimeActionType { kind: NOTIFY.to_owned() },
    }
}

fn duration(text: &str, field: &str) -> Result<i64, Error> {
    parse_iso8601_duration(text)
        .ok_or_else(|| Error::BadParameter(crate::messages::keys::invalid_duration(text, field)))
}

impl RotationPolicy {
    /// The policy of a key that never had one set [unverified, contract §5 item 22]:
    /// notify 30 days before expiry.
    #[must_use]
    pub fn default_policy() -> Self {
        Self { lifetime_actions: vec![notify_before_expiry("P30D")], attributes: PolicyAttributes::default() }
    }

    /// Validates a policy as PUT sends it and returns what the service stores: action types
    /// normalised, and a Notify 30 days before expiry appended when only Rotate is given.
    pub fn normalized(mut self, previous: Option<&RotationPolicy>, now: UnixSeconds) -> Result<Self, Error> {
        if self.lifetime_actions.len() > 2 {
            return Err(Error::BadParameter(crate::messages::keys::TOO_MANY_LIFETIME_ACTIONS.into()));
        }
        for action in &mut self.lifetime_actions {
            action.action.kind = match action.action.kind.to_ascii_lowercase().as_str() {
                "rotate" => ROTATE.to_owned(),
                "notify" => NOTIFY.to_owned(),
                other => {
                    return Err(Error::BadParameter(crate::messages::keys::unknown_lifetime_action(other)));
                }
            };
            let trigger = &action.trigger;
            match (&trigger.time_after_create, &trigger.time_before_expiry) {
                (Some(after), None) => {
                    duration(after, "timeAfterCreate")?;
                    if action.action.kind == NOTIFY {
                        return Err(Error::BadParameter(crate::messages::keys::NOTIFY_NEEDS_TIME_BEFORE_EXPIRY.into()));
                    }
                }
                (None, Some(before)) => {
                    duration(before, "timeBeforeExpiry")?;
                }
                _ => {
                    return Err(Error::BadParameter(crate::messages::keys::ONE_TRIGGER_PER_ACTION.into()));
                }
            }
        }
        for kind in [ROTATE, NOTIFY] {
            if self.lifetime_actions.iter().filter(|a| a.action.kind == kind).count() > 1 {
                return Err(Error::BadParameter(crate::messages::keys::duplicate_lifetime_action(kind)));
            }
        }
        if let Some(expiry) = &self.attributes.expiry_time
            && duration(expiry, "expiryTime")? < MIN_EXPIRY_SECONDS
        {
            return Err(Error::BadParameter(crate::messages::keys::expiry_time_too_short(expiry)));
        }
        let has = |kind: &str| self.lifetime_actions.iter().any(|a| a.action.kind == kind);
        if has(ROTATE) && !has(NOTIFY) {
            self.lifetime_actions.push(notify_before_expiry("P30D"));
        }
        self.attributes.created = Some(previous.and_then(|p| p.attributes.created).unwrap_or(now));
        self.attributes.updated = Some(now);
        Ok(self)
    }

    /// Seconds a new version lives, from `expiryTime`.
    #[must_use]
    pub fn expiry_seconds(&self) -> Option<i64> {
        self.attributes.expiry_time.as_deref().and_then(parse_iso8601_duration)
    }

    /// Is the Rotate action due for `current` (the key's current version) at `now`?
    #[must_use]
    pub fn rotation_due(&self, current: &Key, now: UnixSeconds) -> bool {
        self.lifetime_actions.iter().filter(|a| a.action.kind == ROTATE).any(|a| {
            let after_create = a.trigger.time_after_create.as_deref().and_then(parse_iso8601_duration);
            let before_expiry = a.trigger.time_before_expiry.as_deref().and_then(parse_iso8601_duration);
            match (after_create, before_expiry) {
                (Some(after), _) => now >= current.attributes.created.saturating_add(after),
                (None, Some(before)) => current.attributes.expires.is_some_and(|exp| now >= exp.saturating_sub(before)),
                (None, None) => false,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rotate_after(duration: &str) -> RotationPolicy {
        RotationPolicy {
            lifetime_actions: vec![LifetimeAction {
                trigger: LifetimeTrigger { time_after_create: Some(duration.into()), time_before_expiry: None },
                action: LifetimeActionType { kind: "rotate".into() },
            }],
            attributes: PolicyAttributes::default(),
        }
    }

    #[test]
    fn only_rotate_gets_a_notify_appended_and_types_are_normalised() {
        let policy = rotate_after("P2M").normalized(None, 100).unwrap();
        assert_eq!(policy.lifetime_actions.len(), 2);
        assert_eq!(policy.lifetime_actions[0].action.kind, "Rotate");
        assert_eq!(policy.lifetime_actions[1], notify_before_expiry("P30D"));
        assert_eq!((policy.attributes.created, policy.attributes.updated), (Some(100), Some(100)));
        let again = rotate_after("P3M").normalized(Some(&policy), 200).unwrap();
        assert_eq!((again.attributes.created, again.attributes.updated), (Some(100), Some(200)));
    }

    #[test]
    fn invalid_policies_are_refused() {
        let mut short = rotate_after("P90D");
        short.attributes.expiry_time = Some("P27D".into());
        let mut two_rotates = rotate_after("P90D");
        two_rotates.lifetime_actions.push(two_rotates.lifetime_actions[0].clone());
        let mut both_triggers = rotate_after("P90D");
        both_triggers.lifetime_actions[0].trigger.time_before_expiry = Some("P30D".into());
        let mut notify_after_create = rotate_after("P90D");
        notify_after_create.lifetime_actions[0].action.kind = "Notify".into();
        for bad in [short, two_rotates, both_triggers, notify_after_create, rotate_after("90 days"), rotate_after("P")]
        {
            let shown = format!("{bad:?}");
            assert!(matches!(bad.normalized(None, 0), Err(Error::BadParameter(_))), "{shown}");
        }
    }
}
