//! Every data-plane operation with the access-policy permission and the RBAC data action it
//! needs on a vault (contract §5 table) and the local-RBAC data action it needs on a Managed
//! HSM, and every management-plane operation with the Resource Manager action it needs.
//! Authorization reads these tables and nothing else. The Microsoft Graph subset's operations
//! are listed too (for the audit log), though they need nothing beyond a Graph token.

/// A vault operation, named after its REST operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    CreateKey,
    ImportKey,
    GetKey,
    UpdateKey,
    ListKeys,
    ListKeyVersions,
    DeleteKey,
    GetDeletedKey,
    ListDeletedKeys,
    RecoverDeletedKey,
    PurgeDeletedKey,
    BackupKey,
    RestoreKey,
    Encrypt,
    Decrypt,
    Sign,
    Verify,
    WrapKey,
    UnwrapKey,
    Release,
    RotateKey,
    GetRotationPolicy,
    SetRotationPolicy,
    GetKeyAttestation,
    GetRandomBytes,
    // Managed HSM only: local RBAC and the security domain.
    ReadRoleAssignment,
    WriteRoleAssignment,
    DeleteRoleAssignment,
    ReadRoleDefinition,
    WriteRoleDefinition,
    DeleteRoleDefinition,
    SecurityDomainDownload,
    SecurityDomainDownloadStatus,
    SecurityDomainUpload,
    SecurityDomainUploadStatus,
    SecurityDomainTransferKey,
}

/// The Managed HSM data actions all start with this.
macro_rules! HSM {
    ($action:literal) => {
        concat!("Microsoft.KeyVault/managedHsm/", $action)
    };
}

/// One row: (operation, access-policy key permission, vault RBAC data action, Managed HSM
/// local-RBAC data action). HSM-only operations have [`NOT_ON_VAULTS`] in the vault columns.
/// HSM rows marked [unverified] in the comment map an operation the HSM role documents do not
/// name to the nearest documented action.
#[rustfmt::skip]
pub const TABLE: &[(Operation, &str, &str, &str)] = &[
    (Operation::CreateKey, "create", "Microsoft.KeyVault/vaults/keys/create/action", HSM!("keys/create")),
    (Operation::ImportKey, "import", "Microsoft.KeyVault/vaults/keys/import/action", HSM!("keys/import/action")),
    (Operation::GetKey, "get", "Microsoft.KeyVault/vaults/keys/read", HSM!("keys/read/action")),
    (Operation::UpdateKey, "update", "Microsoft.KeyVault/vaults/keys/update/action", HSM!("keys/write/action")),
    (Operation::ListKeys, "list", "Microsoft.KeyVault/vaults/keys/read", HSM!("keys/read/action")),
    (Operation::ListKeyVersions, "list", "Microsoft.KeyVault/vaults/keys/read", HSM!("keys/read/action")),
    (Operation::DeleteKey, "delete", "Microsoft.KeyVault/vaults/keys/delete", HSM!("keys/delete")),
    (Operation::GetDeletedKey, "get", "Microsoft.KeyVault/vaults/keys/read", HSM!("keys/deletedKeys/read/action")),
    (Operation::ListDeletedKeys, "list", "Microsoft.KeyVault/vaults/keys/read", HSM!("keys/deletedKeys/read/action")),
    (Operation::RecoverDeletedKey, "recover", "Microsoft.KeyVault/vaults/keys/recover/action", HSM!("keys/deletedKeys/recover/action")),
    (Operation::PurgeDeletedKey, "purge", "Microsoft.KeyVault/vaults/keys/purge/action", HSM!("keys/deletedKeys/delete")),
    (Operation::BackupKey, "backup", "Microsoft.KeyVault/vaults/keys/backup/action", HSM!("keys/backup/action")),
    (Operation::RestoreKey, "restore", "Microsoft.KeyVault/vaults/keys/restore/action", HSM!("keys/restore/action")),
    (Operation::Encrypt, "encrypt", "Microsoft.KeyVault/vaults/keys/encrypt/action", HSM!("keys/encrypt/action")),
    (Operation::Decrypt, "decrypt", "Microsoft.KeyVault/vaults/keys/decrypt/action", HSM!("keys/decrypt/action")),
    (Operation::Sign, "sign", "Microsoft.KeyVault/vaults/keys/sign/action", HSM!("keys/sign/action")),
    (Operation::Verify, "verify", "Microsoft.KeyVault/vaults/keys/verify/action", HSM!("keys/verify/action")),
    (Operation::WrapKey, "wrapKey", "Microsoft.KeyVault/vaults/keys/wrap/action", HSM!("keys/wrap/action")),
    (Operation::UnwrapKey, "unwrapKey", "Microsoft.KeyVault/vaults/keys/unwrap/action", HSM!("keys/unwrap/action")),
    (Operation::Release, "release", "Microsoft.KeyVault/vaults/keys/release/action", HSM!("keys/release/action")),
    // [unverified] no rotate action is documented for Managed HSM; rotation creates a version.
    (Operation::RotateKey, "rotate", "Microsoft.KeyVault/vaults/keys/rotate/action", HSM!("keys/create")),
    (Operation::GetRotationPolicy, "getrotationpolicy", "Microsoft.KeyVault/vaults/keyrotationpolicies/read", HSM!("keys/read/action")),
    (Operation::SetRotationPolicy, "setrotationpolicy", "Microsoft.KeyVault/vaults/keyrotationpolicies/write", HSM!("keys/write/action")),
    (Operation::GetKeyAttestation, "get", "Microsoft.KeyVault/vaults/keys/read", HSM!("keys/read/action")),
    // Vaults have neither an rng permission nor an rng data action (the operation comes from
    // Managed HSM): any principal holding some key permission, or allowed to read keys, may
    // draw random bytes.
    (Operation::GetRandomBytes, ANY_KEY_PERMISSION, "Microsoft.KeyVault/vaults/keys/read", HSM!("rng/action")),
    (Operation::ReadRoleAssignment, NOT_ON_VAULTS, NOT_ON_VAULTS, HSM!("roleAssignments/read/action")),
    (Operation::WriteRoleAssignment, NOT_ON_VAULTS, NOT_ON_VAULTS, HSM!("roleAssignments/write/action")),
    (Operation::DeleteRoleAssignment, NOT_ON_VAULTS, NOT_ON_VAULTS, HSM!("roleAssignments/delete/action")),
    (Operation::ReadRoleDefinition, NOT_ON_VAULTS, NOT_ON_VAULTS, HSM!("roleDefinitions/read/action")),
    (Operation::WriteRoleDefinition, NOT_ON_VAULTS, NOT_ON_VAULTS, HSM!("roleDefinitions/write/action")),
    (Operation::DeleteRoleDefinition, NOT_ON_VAULTS, NOT_ON_VAULTS, HSM!("roleDefinitions/delete/action")),
    (Operation::SecurityDomainDownload, NOT_ON_VAULTS, NOT_ON_VAULTS, HSM!("securitydomain/download/action")),
    (Operation::SecurityDomainDownloadStatus, NOT_ON_VAULTS, NOT_ON_VAULTS, HSM!("securitydomain/download/read")),
    (Operation::SecurityDomainUpload, NOT_ON_VAULTS, NOT_ON_VAULTS, HSM!("securitydomain/upload/action")),
    (Operation::SecurityDomainUploadStatus, NOT_ON_VAULTS, NOT_ON_VAULTS, HSM!("securitydomain/upload/read")),
    (Operation::SecurityDomainTransferKey, NOT_ON_VAULTS, NOT_ON_VAULTS, HSM!("securitydomain/transferkey/read")),
];

/// The vault columns of operations only a Managed HSM has: no vault route uses them.
pub const NOT_ON_VAULTS: &str = "";

/// The permission-column marker for operations that any key permission on the vault allows.
pub const ANY_KEY_PERMISSION: &str = "any";

impl Operation {
    fn row(self) -> &'static (Operation, &'static str, &'static str, &'static str) {
        TABLE
            .iter()
            .find(|(op, _, _, _)| *op == self)
            .unwrap_or_else(|| panic!("operation {self:?} is missing from the authorization table"))
    }

    /// The access-policy key permission, as the ARM `KeyPermissions` enum spells it.
    #[must_use]
    pub fn permission(self) -> &'static str {
        self.row().1
    }

    /// The RBAC data action on a vault.
    #[must_use]
    pub fn data_action(self) -> &'static str {
        self.row().2
    }

    /// Whether the operation's path names one key (so a key-scoped role assignment can cover
    /// it); listings, restore and random bytes address the vault as a whole.
    #[must_use]
    pub fn names_a_key(self) -> bool {
        !matches!(self, Self::ListKeys | Self::ListDeletedKeys | Self::RestoreKey | Self::GetRandomBytes)
    }

    /// The local-RBAC data action on a Managed HSM.
    #[must_use]
    pub fn hsm_data_action(self) -> &'static str {
        self.row().3
    }

    /// Whether the operation concerns keys (its HSM scope may be `/keys` or `/keys/{name}`), as
    /// opposed to the HSM as a whole (role management, security domain: scope `/` only).
    #[must_use]
    pub fn is_key_operation(self) -> bool {
        let action = self.hsm_data_action();
        action.starts_with(HSM!("keys/")) || action == HSM!("rng/action")
    }
}

/// A management-plane operation: a verb on a Resource Manager resource type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ManagementOperation {
    ListSubscriptions,
    ReadSubscription,
    ReadResourceGroup,
    WriteResourceGroup,
    ReadVault,
    WriteVault,
    DeleteVault,
    WriteAccessPolicy,
    ReadDeletedVault,
    PurgeDeletedVault,
    ReadIdentity,
    WriteIdentity,
    DeleteIdentity,
    ReadRoleAssignment,
    WriteRoleAssignment,
    DeleteRoleAssignment,
    ReadRoleDefinition,
    ListResources,
    ReadManagedHsm,
    ReadDeletedManagedHsm,
    WriteManagedHsm,
    DeleteManagedHsm,
    PurgeDeletedManagedHsm,
    CheckManagedHsmName,
}

/// Who may call a management operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManagementAccess {
    /// Every authenticated caller; the answer shows only what the caller holds a role in (ARM
    /// lists the subscriptions a caller can see, possibly none, rather than refusing).
    AnyCaller,
    /// Callers holding a role whose actions include this one at a scope covering the request.
    Action(&'static str),
}

/// One row per management operation: (operation, access).
pub const MANAGEMENT_TABLE: &[(ManagementOperation, ManagementAccess)] = &[
    (ManagementOperation::ListSubscriptions, ManagementAccess::AnyCaller),
    (ManagementOperation::ReadSubscription, ManagementAccess::AnyCaller),
    (
        ManagementOperation::ReadResourceGroup,
        ManagementAccess::Action("Microsoft.Resources/subscriptions/resourceGroups/read"),
    ),
    (
        ManagementOperation::WriteResourceGroup,
        ManagementAccess::Action("Microsoft.Resources/subscriptions/resourceGroups/write"),
    ),
    (ManagementOperation::ReadVault, ManagementAccess::Action("Microsoft.KeyVault/vaults/read")),
    (ManagementOperation::WriteVault, ManagementAccess::Action("Microsoft.KeyVault/vaults/write")),
    (ManagementOperation::DeleteVault, ManagementAccess::Action("Microsoft.KeyVault/vaults/delete")),
    (
        ManagementOperation::WriteAccessPolicy,
        ManagementAccess::Action("Microsoft.KeyVault/vaults/accessPolicies/write"),
    ),
    (
        ManagementOperation::ReadDeletedVault,
        ManagementAccess::Action("Microsoft.KeyVault/locations/deletedVaults/read"),
    ),
    (
        ManagementOperation::PurgeDeletedVault,
        ManagementAccess::Action("Microsoft.KeyVault/locations/deletedVaults/purge/action"),
    ),
    (
        ManagementOperation::ReadIdentity,
        ManagementAccess::Action("Microsoft.ManagedIdentity/userAssignedIdentities/read"),
    ),
    (
        ManagementOperation::WriteIdentity,
        ManagementAccess::Action("Microsoft.ManagedIdentity/userAssignedIdentities/write"),
    ),
    (
        ManagementOperation::DeleteIdentity,
        ManagementAccess::Action("Microsoft.ManagedIdentity/userAssignedIdentities/delete"),
    ),
    (ManagementOperation::ReadRoleAssignment, ManagementAccess::Action("Microsoft.Authorization/roleAssignments/read")),
    (
        ManagementOperation::WriteRoleAssignment,
        ManagementAccess::Action("Microsoft.Authorization/roleAssignments/write"),
    ),
    (
        ManagementOperation::DeleteRoleAssignment,
        ManagementAccess::Action("Microsoft.Authorization/roleAssignments/delete"),
    ),
    (ManagementOperation::ReadRoleDefinition, ManagementAccess::Action("Microsoft.Authorization/roleDefinitions/read")),
    (ManagementOperation::ListResources, ManagementAccess::Action("Microsoft.Resources/subscriptions/resources/read")),
    (ManagementOperation::ReadManagedHsm, ManagementAccess::Action("Microsoft.KeyVault/managedHSMs/read")),
    (
        ManagementOperation::ReadDeletedManagedHsm,
        ManagementAccess::Action("Microsoft.KeyVault/locations/deletedManagedHSMs/read"),
    ),
    (ManagementOperation::WriteManagedHsm, ManagementAccess::Action("Microsoft.KeyVault/managedHSMs/write")),
    (ManagementOperation::DeleteManagedHsm, ManagementAccess::Action("Microsoft.KeyVault/managedHSMs/delete")),
    (
        ManagementOperation::PurgeDeletedManagedHsm,
        ManagementAccess::Action("Microsoft.KeyVault/locations/deletedManagedHSMs/purge/action"),
    ),
    (
        ManagementOperation::CheckManagedHsmName,
        ManagementAccess::Action("Microsoft.KeyVault/checkMhsmNameAvailability/read"),
    ),
];

impl ManagementOperation {
    /// Who may call the operation.
    #[must_use]
    pub fn access(self) -> ManagementAccess {
        MANAGEMENT_TABLE
            .iter()
            .find(|(op, _)| *op == self)
            .map(|(_, access)| *access)
            .unwrap_or_else(|| panic!("operation {self:?} is missing from the management table"))
    }
}

/// An operation of the Microsoft Graph subset (`api/graph.rs`), named after Graph's own
/// operation. Every authenticated identity of the tenant may call each one, so there is no
/// access column: the audit log names the operation and records the rule `anyCaller`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GraphOperation {
    /// `GET /v1.0/me`.
    GetSignedInUser,
    /// `GET /v1.0/servicePrincipals`.
    ListServicePrincipals,
    /// `GET /v1.0/servicePrincipals/{id}`.
    GetServicePrincipal,
    /// `POST /v1.0/directoryObjects/getByIds`.
    GetDirectoryObjectsByIds,
}

/// Every Graph operation, for the audit log's `operation` filter.
pub const GRAPH_OPERATIONS: &[GraphOperation] = &[
    GraphOperation::GetSignedInUser,
    GraphOperation::ListServicePrincipals,
    GraphOperation::GetServicePrincipal,
    GraphOperation::GetDirectoryObjectsByIds,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_management_operation_has_exactly_one_row() {
        for (op, _) in MANAGEMENT_TABLE {
            assert_eq!(MANAGEMENT_TABLE.iter().filter(|(o, _)| o == op).count(), 1, "{op:?}");
        }
        assert_eq!(MANAGEMENT_TABLE.len(), 24);
        assert_eq!(ManagementOperation::ListSubscriptions.access(), ManagementAccess::AnyCaller);
        assert_eq!(
            ManagementOperation::WriteAccessPolicy.access(),
            ManagementAccess::Action("Microsoft.KeyVault/vaults/accessPolicies/write")
        );
    }

    /// The audit log knows an operation by its name alone (records, the `operation` filter), so
    /// no Graph operation may share a name with a vault or management one.
    #[test]
    fn graph_operation_names_are_their_own() {
        let others: Vec<String> = TABLE
            .iter()
            .map(|(op, ..)| format!("{op:?}"))
            .chain(MANAGEMENT_TABLE.iter().map(|(op, _)| format!("{op:?}")))
            .collect();
        for op in GRAPH_OPERATIONS {
            assert!(!others.contains(&format!("{op:?}")), "{op:?}");
        }
        assert_eq!(GRAPH_OPERATIONS.len(), 4);
    }

    #[test]
    fn every_operation_has_exactly_one_row() {
        for (op, _, _, _) in TABLE {
            assert_eq!(TABLE.iter().filter(|(o, _, _, _)| o == op).count(), 1, "{op:?}");
        }
        assert_eq!(TABLE.len(), 36);
        assert_eq!(Operation::UnwrapKey.hsm_data_action(), "Microsoft.KeyVault/managedHsm/keys/unwrap/action");
        assert!(Operation::GetRandomBytes.is_key_operation());
        assert!(!Operation::WriteRoleAssignment.is_key_operation());
    }

    #[test]
    fn cmk_operations_match_the_contract() {
        assert_eq!(Operation::WrapKey.permission(), "wrapKey");
        assert_eq!(Operation::WrapKey.data_action(), "Microsoft.KeyVault/vaults/keys/wrap/action");
        assert_eq!(Operation::UnwrapKey.permission(), "unwrapKey");
        assert_eq!(Operation::GetKey.permission(), "get");
        assert_eq!(Operation::ListKeyVersions.permission(), "list");
        assert_eq!(Operation::PurgeDeletedKey.data_action(), "Microsoft.KeyVault/vaults/keys/purge/action");
        assert_eq!(Operation::SetRotationPolicy.permission(), "setrotationpolicy");
    }
}
