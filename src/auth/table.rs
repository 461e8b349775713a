//! Every vault data-plane operation with the access-policy permission and the RBAC data action
//! it needs (contract §5 table), and every management-plane operation with the Resource
//! Manager action it needs. Authorization reads these tables and nothing else.

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
}

/// One row: (operation, access-policy key permission, RBAC data action).
pub const TABLE: &[(Operation, &str, &str)] = &[
    (Operation::CreateKey, "create", "Microsoft.KeyVault/vaults/keys/create/action"),
    (Operation::ImportKey, "import", "Microsoft.KeyVault/vaults/keys/import/action"),
    (Operation::GetKey, "get", "Microsoft.KeyVault/vaults/keys/read"),
    (Operation::UpdateKey, "update", "Microsoft.KeyVault/vaults/keys/update/action"),
    (Operation::ListKeys, "list", "Microsoft.KeyVault/vaults/keys/read"),
    (Operation::ListKeyVersions, "list", "Microsoft.KeyVault/vaults/keys/read"),
    (Operation::DeleteKey, "delete", "Microsoft.KeyVault/vaults/keys/delete"),
    (Operation::GetDeletedKey, "get", "Microsoft.KeyVault/vaults/keys/read"),
    (Operation::ListDeletedKeys, "list", "Microsoft.KeyVault/vaults/keys/read"),
    (Operation::RecoverDeletedKey, "recover", "Microsoft.KeyVault/vaults/keys/recover/action"),
    (Operation::PurgeDeletedKey, "purge", "Microsoft.KeyVault/vaults/keys/purge/action"),
    (Operation::BackupKey, "backup", "Microsoft.KeyVault/vaults/keys/backup/action"),
    (Operation::RestoreKey, "restore", "Microsoft.KeyVault/vaults/keys/restore/action"),
    (Operation::Encrypt, "encrypt", "Microsoft.KeyVault/vaults/keys/encrypt/action"),
    (Operation::Decrypt, "decrypt", "Microsoft.KeyVault/vaults/keys/decrypt/action"),
    (Operation::Sign, "sign", "Microsoft.KeyVault/vaults/keys/sign/action"),
    (Operation::Verify, "verify", "Microsoft.KeyVault/vaults/keys/verify/action"),
    (Operation::WrapKey, "wrapKey", "Microsoft.KeyVault/vaults/keys/wrap/action"),
    (Operation::UnwrapKey, "unwrapKey", "Microsoft.KeyVault/vaults/keys/unwrap/action"),
    (Operation::Release, "release", "Microsoft.KeyVault/vaults/keys/release/action"),
    (Operation::RotateKey, "rotate", "Microsoft.KeyVault/vaults/keys/rotate/action"),
    (Operation::GetRotationPolicy, "getrotationpolicy", "Microsoft.KeyVault/vaults/keyrotationpolicies/read"),
    (Operation::SetRotationPolicy, "setrotationpolicy", "Microsoft.KeyVault/vaults/keyrotationpolicies/write"),
    (Operation::GetKeyAttestation, "get", "Microsoft.KeyVault/vaults/keys/read"),
    // Vaults have neither an rng permission nor an rng data action (the operation comes from
    // Managed HSM): any principal holding some key permission, or allowed to read keys, may
    // draw random bytes.
    (Operation::GetRandomBytes, ANY_KEY_PERMISSION, "Microsoft.KeyVault/vaults/keys/read"),
];

/// The permission-column marker for operations that any key permission on the vault allows.
pub const ANY_KEY_PERMISSION: &str = "any";

impl Operation {
    fn row(self) -> &'static (Operation, &'static str, &'static str) {
        TABLE
            .iter()
            .find(|(op, _, _)| *op == self)
            .unwrap_or_else(|| panic!("operation {self:?} is missing from the authorization table"))
    }

    /// The access-policy key permission, as the ARM `KeyPermissions` enum spells it.
    #[must_use]
    pub fn permission(self) -> &'static str {
        self.row().1
    }

    /// The RBAC data action.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_management_operation_has_exactly_one_row() {
        for (op, _) in MANAGEMENT_TABLE {
            assert_eq!(MANAGEMENT_TABLE.iter().filter(|(o, _)| o == op).count(), 1, "{op:?}");
        }
        assert_eq!(MANAGEMENT_TABLE.len(), 20);
        assert_eq!(ManagementOperation::ListSubscriptions.access(), ManagementAccess::AnyCaller);
        assert_eq!(
            ManagementOperation::WriteAccessPolicy.access(),
            ManagementAccess::Action("Microsoft.KeyVault/vaults/accessPolicies/write")
        );
    }

    #[test]
    fn every_operation_has_exactly_one_row() {
        for (op, _, _) in TABLE {
            assert_eq!(TABLE.iter().filter(|(o, _, _)| o == op).count(), 1, "{op:?}");
        }
        assert_eq!(TABLE.len(), 25);
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
