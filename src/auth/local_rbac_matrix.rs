//! The local-RBAC matrix of a Managed HSM, written once as data: for each built-in role, the
//! operations the Managed HSM role documentation marks for it at scope `/`. The test checks every
//! role × operation × scope (`/`, `/keys`, `/keys/{name}` on that key and on another) against
//! the one decision (`auth::decision::decide`) on a real `Vault` of kind Managed HSM.

use uuid::Uuid;

use super::Principal;
use super::decision::{Target, decide};
use super::local_rbac::{self, BUILT_IN_ROLES};
use super::rbac::{AssignmentScope, RoleAssignment};
use super::table::Operation as Op;
use crate::vaults::{Vault, VaultName, VaultSettings};

/// Role → what it may do at `/` (from the role documentation, not from the role table).
const MATRIX: &[(&str, &[Op])] = &[
    (
        "Managed HSM Administrator",
        &[
            Op::ReadRoleAssignment,
            Op::WriteRoleAssignment,
            Op::DeleteRoleAssignment,
            Op::ReadRoleDefinition,
            Op::WriteRoleDefinition,
            Op::DeleteRoleDefinition,
            Op::SecurityDomainDownload,
            Op::SecurityDomainDownloadStatus,
            Op::SecurityDomainUpload,
            Op::SecurityDomainUploadStatus,
            Op::SecurityDomainTransferKey,
        ],
    ),
    (
        "Managed HSM Crypto Officer",
        &[
            Op::ReadRoleAssignment,
            Op::WriteRoleAssignment,
            Op::DeleteRoleAssignment,
            Op::ReadRoleDefinition,
            Op::WriteRoleDefinition,
            Op::DeleteRoleDefinition,
            Op::GetDeletedKey,
            Op::ListDeletedKeys,
            Op::RecoverDeletedKey,
            Op::PurgeDeletedKey,
        ],
    ),
    (
        "Managed HSM Crypto User",
        &[
            Op::ReadRoleAssignment,
            Op::ReadRoleDefinition,
            Op::CreateKey,
            Op::ImportKey,
            Op::GetKey,
            Op::ListKeys,
            Op::ListKeyVersions,
            Op::UpdateKey,
            Op::DeleteKey,
            Op::BackupKey,
            Op::RestoreKey,
            Op::Encrypt,
            Op::Decrypt,
            Op::WrapKey,
            Op::UnwrapKey,
            Op::Sign,
            Op::Verify,
            Op::Release,
            Op::RotateKey,
            Op::GetRotationPolicy,
            Op::SetRotationPolicy,
            Op::GetKeyAttestation,
            Op::GetRandomBytes,
        ],
    ),
    (
        "Managed HSM Policy Administrator",
        &[
            Op::ReadRoleAssignment,
            Op::WriteRoleAssignment,
            Op::DeleteRoleAssignment,
            Op::ReadRoleDefinition,
            Op::WriteRoleDefinition,
            Op::DeleteRoleDefinition,
        ],
    ),
    (
        "Managed HSM Crypto Auditor",
        &[
            Op::ReadRoleAssignment,
            Op::ReadRoleDefinition,
            Op::GetKey,
            Op::ListKeys,
            Op::ListKeyVersions,
            Op::GetRotationPolicy,
            Op::GetKeyAttestation,
            Op::GetDeletedKey,
            Op::ListDeletedKeys,
        ],
    ),
    (
        "Managed HSM Crypto Service Encryption User",
        &[
            Op::GetKey,
            Op::ListKeys,
            Op::ListKeyVersions,
            Op::GetRotationPolicy,
            Op::GetKeyAttestation,
            Op::WrapKey,
            Op::UnwrapKey,
        ],
    ),
    ("Managed HSM Crypto Service Release User", &[Op::Release]),
    ("Managed HSM Backup User", &[Op::BackupKey]),
];

/// Operations that name no single key (listing, rng, role management, security domain).
fn names_no_key(op: Op) -> bool {
    matches!(op, Op::ListKeys | Op::ListDeletedKeys | Op::GetRandomBytes | Op::RestoreKey) || !op.is_key_operation()
}

fn hsm_with(role: uuid::Uuid, scope: AssignmentScope, me: Uuid) -> Vault {
    let settings = VaultSettings::new(VaultName::parse("hsm1").unwrap());
    let mut hsm = Vault::new_managed_hsm(&settings, Uuid::nil(), vec![]);
    hsm.role_assignments.push(RoleAssignment { id: Uuid::new_v4(), principal_id: me, role_definition_id: role, scope });
    hsm
}

#[test]
fn every_role_every_operation_every_scope() {
    let me = Principal {
        tenant_id: Uuid::nil(),
        object_id: Uuid::from_u128(42),
        app_id: Uuid::nil(),
        issuer: String::new(),
    };
    assert_eq!(MATRIX.len(), BUILT_IN_ROLES.len(), "every built-in role has a row");
    let mut checked = 0;
    for (role_name, allowed_at_root) in MATRIX {
        let role = local_rbac::built_in(role_name).unwrap_or_else(|| panic!("{role_name} is a built-in role"));
        for &(op, _, _, _) in super::table::TABLE {
            let at_root = allowed_at_root.contains(&op);
            let key = if names_no_key(op) { None } else { Some("cmk") };
            let cases = [
                (AssignmentScope::Vault, key, at_root),
                (AssignmentScope::AllKeys, key, at_root && op.is_key_operation()),
                (AssignmentScope::Key("cmk".into()), key, at_root && key.is_some()),
                (AssignmentScope::Key("other".into()), key, false),
            ];
            for (scope, key, expected) in cases {
                let hsm = hsm_with(role.id, scope.clone(), me.object_id);
                let outcome = decide(&hsm, &me, op, Target { key, version: None });
                assert_eq!(outcome.is_ok(), expected, "{role_name} {op:?} at {scope:?} on {key:?}: {outcome:?}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, MATRIX.len() * super::table::TABLE.len() * 4);
}

#[test]
fn vault_access_policies_and_vault_roles_never_apply_to_an_hsm() {
    let me = Principal {
        tenant_id: Uuid::nil(),
        object_id: Uuid::from_u128(42),
        app_id: Uuid::nil(),
        issuer: String::new(),
    };
    let vault_admin = super::rbac::RoleDefinition::find("Key Vault Administrator").unwrap().id;
    let mut hsm = hsm_with(vault_admin, AssignmentScope::Vault, me.object_id);
    hsm.access_policies.push(super::policy::AccessPolicy::all_keys(Uuid::nil(), me.object_id));
    for op in [Op::GetKey, Op::WrapKey, Op::CreateKey, Op::ReadRoleAssignment] {
        assert!(decide(&hsm, &me, op, Target { key: Some("cmk"), version: None }).is_err(), "{op:?}");
    }
}
