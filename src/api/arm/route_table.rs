//! The management plane's routing table as data: each (method, example URL) with the operation
//! the router must pick and the Resource Manager action it needs (`None`: any authenticated
//! caller). The in-process test below checks the router and `auth::table::MANAGEMENT_TABLE`
//! against it. `{sub}` stands for the emulator's subscription id.

use crate::auth::table::ManagementOperation;

#[derive(Clone, Copy, Debug)]
pub struct ManagementRouteCase {
    pub method: &'static str,
    pub path: &'static str,
    pub operation: ManagementOperation,
    pub action: Option<&'static str>,
}

const fn case(
    method: &'static str,
    path: &'static str,
    operation: ManagementOperation,
    action: Option<&'static str>,
) -> ManagementRouteCase {
    ManagementRouteCase { method, path, operation, action }
}

use ManagementOperation as Op;

pub const MANAGEMENT_ROUTE_CASES: &[ManagementRouteCase] = &[
    case("GET", "/subscriptions", Op::ListSubscriptions, None),
    case("GET", "/subscriptions/{sub}", Op::ReadSubscription, None),
    case(
        "GET",
        "/subscriptions/{sub}/resourcegroups/rg",
        Op::ReadResourceGroup,
        Some("Microsoft.Resources/subscriptions/resourceGroups/read"),
    ),
    case(
        "HEAD",
        "/subscriptions/{sub}/resourcegroups/rg",
        Op::ReadResourceGroup,
        Some("Microsoft.Resources/subscriptions/resourceGroups/read"),
    ),
    case(
        "PUT",
        "/subscriptions/{sub}/resourcegroups/rg",
        Op::WriteResourceGroup,
        Some("Microsoft.Resources/subscriptions/resourceGroups/write"),
    ),
    case(
        "GET",
        "/subscriptions/{sub}/providers/microsoft.keyvault/vaults",
        Op::ReadVault,
        Some("Microsoft.KeyVault/vaults/read"),
    ),
    case(
        "GET",
        "/subscriptions/{sub}/resourcegroups/rg/providers/microsoft.keyvault/vaults",
        Op::ReadVault,
        Some("Microsoft.KeyVault/vaults/read"),
    ),
    case(
        "GET",
        "/subscriptions/{sub}/resourcegroups/rg/providers/microsoft.keyvault/vaults/v1",
        Op::ReadVault,
        Some("Microsoft.KeyVault/vaults/read"),
    ),
    case(
        "PUT",
        "/subscriptions/{sub}/resourcegroups/rg/providers/microsoft.keyvault/vaults/v1",
        Op::WriteVault,
        Some("Microsoft.KeyVault/vaults/write"),
    ),
    case(
        "PATCH",
        "/subscriptions/{sub}/resourcegroups/rg/providers/microsoft.keyvault/vaults/v1",
        Op::WriteVault,
        Some("Microsoft.KeyVault/vaults/write"),
    ),
    case(
        "DELETE",
        "/subscriptions/{sub}/resourcegroups/rg/providers/microsoft.keyvault/vaults/v1",
        Op::DeleteVault,
        Some("Microsoft.KeyVault/vaults/delete"),
    ),
    case(
        "PUT",
        "/subscriptions/{sub}/resourcegroups/rg/providers/microsoft.keyvault/vaults/v1/accesspolicies/add",
        Op::WriteAccessPolicy,
        Some("Microsoft.KeyVault/vaults/accessPolicies/write"),
    ),
    case(
        "GET",
        "/subscriptions/{sub}/providers/microsoft.keyvault/deletedvaults",
        Op::ReadDeletedVault,
        Some("Microsoft.KeyVault/locations/deletedVaults/read"),
    ),
    case(
        "GET",
        "/subscriptions/{sub}/providers/microsoft.keyvault/locations/westeurope/deletedvaults/v1",
        Op::ReadDeletedVault,
        Some("Microsoft.KeyVault/locations/deletedVaults/read"),
    ),
    case(
        "POST",
        "/subscriptions/{sub}/providers/microsoft.keyvault/locations/westeurope/deletedvaults/v1/purge",
        Op::PurgeDeletedVault,
        Some("Microsoft.KeyVault/locations/deletedVaults/purge/action"),
    ),
    case(
        "GET",
        "/subscriptions/{sub}/providers/microsoft.managedidentity/userassignedidentities",
        Op::ReadIdentity,
        Some("Microsoft.ManagedIdentity/userAssignedIdentities/read"),
    ),
    case(
        "GET",
        "/subscriptions/{sub}/resourcegroups/rg/providers/microsoft.managedidentity/userassignedidentities",
        Op::ReadIdentity,
        Some("Microsoft.ManagedIdentity/userAssignedIdentities/read"),
    ),
    case(
        "GET",
        "/subscriptions/{sub}/resourcegroups/rg/providers/microsoft.managedidentity/userassignedidentities/id1",
        Op::ReadIdentity,
        Some("Microsoft.ManagedIdentity/userAssignedIdentities/read"),
    ),
    case(
        "PUT",
        "/subscriptions/{sub}/resourcegroups/rg/providers/microsoft.managedidentity/userassignedidentities/id1",
        Op::WriteIdentity,
        Some("Microsoft.ManagedIdentity/userAssignedIdentities/write"),
    ),
    case(
        "DELETE",
        "/subscriptions/{sub}/resourcegroups/rg/providers/microsoft.managedidentity/userassignedidentities/id1",
        Op::DeleteIdentity,
        Some("Microsoft.ManagedIdentity/userAssignedIdentities/delete"),
    ),
    case(
        "GET",
        "/subscriptions/{sub}/providers/microsoft.authorization/roleassignments",
        Op::ReadRoleAssignment,
        Some("Microsoft.Authorization/roleAssignments/read"),
    ),
    case(
        "GET",
        "/subscriptions/{sub}/resourcegroups/rg/providers/microsoft.keyvault/vaults/v1/keys/k1/providers/microsoft.authorization/roleassignments",
        Op::ReadRoleAssignment,
        Some("Microsoft.Authorization/roleAssignments/read"),
    ),
    case(
        "GET",
        "/subscriptions/{sub}/resourcegroups/rg/providers/microsoft.keyvault/vaults/v1/providers/microsoft.authorization/roleassignments/00000000-0000-0000-0000-000000000001",
        Op::ReadRoleAssignment,
        Some("Microsoft.Authorization/roleAssignments/read"),
    ),
    case(
        "PUT",
        "/subscriptions/{sub}/resourcegroups/rg/providers/microsoft.authorization/roleassignments/00000000-0000-0000-0000-000000000001",
        Op::WriteRoleAssignment,
        Some("Microsoft.Authorization/roleAssignments/write"),
    ),
    case(
        "DELETE",
        "/subscriptions/{sub}/providers/microsoft.authorization/roleassignments/00000000-0000-0000-0000-000000000001",
        Op::DeleteRoleAssignment,
        Some("Microsoft.Authorization/roleAssignments/delete"),
    ),
    case(
        "GET",
        "/subscriptions/{sub}/providers/microsoft.authorization/roledefinitions",
        Op::ReadRoleDefinition,
        Some("Microsoft.Authorization/roleDefinitions/read"),
    ),
    case(
        "GET",
        "/subscriptions/{sub}/resourcegroups/rg/providers/microsoft.keyvault/vaults/v1/providers/microsoft.authorization/roledefinitions",
        Op::ReadRoleDefinition,
        Some("Microsoft.Authorization/roleDefinitions/read"),
    ),
    case(
        "GET",
        "/subscriptions/{sub}/providers/microsoft.authorization/roledefinitions/00000000-0000-0000-0000-000000000001",
        Op::ReadRoleDefinition,
        Some("Microsoft.Authorization/roleDefinitions/read"),
    ),
    case(
        "GET",
        "/subscriptions/{sub}/resources",
        Op::ListResources,
        Some("Microsoft.Resources/subscriptions/resources/read"),
    ),
    case(
        "GET",
        "/subscriptions/{sub}/resourcegroups/rg/resources",
        Op::ListResources,
        Some("Microsoft.Resources/subscriptions/resources/read"),
    ),
    case(
        "GET",
        "/subscriptions/{sub}/providers/microsoft.keyvault/managedhsms",
        Op::ReadManagedHsm,
        Some("Microsoft.KeyVault/managedHSMs/read"),
    ),
    case(
        "GET",
        "/subscriptions/{sub}/resourcegroups/rg/providers/microsoft.keyvault/managedhsms",
        Op::ReadManagedHsm,
        Some("Microsoft.KeyVault/managedHSMs/read"),
    ),
    case(
        "GET",
        "/subscriptions/{sub}/providers/microsoft.keyvault/deletedmanagedhsms",
        Op::ReadDeletedManagedHsm,
        Some("Microsoft.KeyVault/locations/deletedManagedHSMs/read"),
    ),
    case(
        "GET",
        "/subscriptions/{sub}/resourcegroups/rg/providers/microsoft.keyvault/managedhsms/h1",
        Op::ReadManagedHsm,
        Some("Microsoft.KeyVault/managedHSMs/read"),
    ),
    case(
        "PUT",
        "/subscriptions/{sub}/resourcegroups/rg/providers/microsoft.keyvault/managedhsms/h1",
        Op::WriteManagedHsm,
        Some("Microsoft.KeyVault/managedHSMs/write"),
    ),
    case(
        "PATCH",
        "/subscriptions/{sub}/resourcegroups/rg/providers/microsoft.keyvault/managedhsms/h1",
        Op::WriteManagedHsm,
        Some("Microsoft.KeyVault/managedHSMs/write"),
    ),
    case(
        "DELETE",
        "/subscriptions/{sub}/resourcegroups/rg/providers/microsoft.keyvault/managedhsms/h1",
        Op::DeleteManagedHsm,
        Some("Microsoft.KeyVault/managedHSMs/delete"),
    ),
    case(
        "GET",
        "/subscriptions/{sub}/providers/microsoft.keyvault/locations/local/deletedmanagedhsms/h1",
        Op::ReadDeletedManagedHsm,
        Some("Microsoft.KeyVault/locations/deletedManagedHSMs/read"),
    ),
    case(
        "POST",
        "/subscriptions/{sub}/providers/microsoft.keyvault/locations/local/deletedmanagedhsms/h1/purge",
        Op::PurgeDeletedManagedHsm,
        Some("Microsoft.KeyVault/locations/deletedManagedHSMs/purge/action"),
    ),
    case(
        "POST",
        "/subscriptions/{sub}/providers/microsoft.keyvault/checkmhsmnameavailability",
        Op::CheckManagedHsmName,
        Some("Microsoft.KeyVault/checkMhsmNameAvailability/read"),
    ),
];

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::StatusCode;

    use super::*;
    use crate::api::test_app::{self, STRANGER};
    use crate::auth::table::{MANAGEMENT_TABLE, ManagementAccess};

    #[test]
    fn every_case_needs_what_the_management_table_says() {
        for case in MANAGEMENT_ROUTE_CASES {
            let expected = match case.action {
                Some(action) => ManagementAccess::Action(action),
                None => ManagementAccess::AnyCaller,
            };
            assert_eq!(case.operation.access(), expected, "{} {}", case.method, case.path);
        }
        for (operation, _) in MANAGEMENT_TABLE {
            assert!(MANAGEMENT_ROUTE_CASES.iter().any(|c| c.operation == *operation), "no case for {operation:?}");
        }
    }

    /// A caller with no role is refused each case's action, by name, before the handler runs.
    #[tokio::test]
    async fn the_router_asks_each_case_for_its_action() {
        let state = test_app::state().await;
        let router = crate::api::router::https_router(state.clone());
        let stranger = state.identities.by_name(STRANGER).unwrap();
        let token = state.issuer.issue_for_identity(&stranger, "https://management.azure.com/").unwrap().access_token;
        let subscription = crate::auth::identity::default_subscription(test_app::tenant()).to_string();
        for case in MANAGEMENT_ROUTE_CASES {
            let uri = format!("{}?api-version=2024-11-01", case.path.replace("{sub}", &subscription));
            let request = test_app::vault_request(case.method, &uri, Some(&token), Body::from("{}"));
            let (status, body) = test_app::json_of(test_app::send(&router, request).await).await;
            match case.action {
                Some(action) => {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{} {}: {body}", case.method, case.path);
                    if case.method == "HEAD" {
                        continue; // no body to name the action
                    }
                    let message = body["error"]["message"].as_str().unwrap_or_default();
                    assert!(
                        message.contains(&format!("perform action '{action}' ")),
                        "{} {}: {message}",
                        case.method,
                        case.path
                    );
                }
                // Any caller passes the route; the handler decides what it may see (a caller
                // with no role lists no subscription and may not read it, as on ARM).
                None => assert_ne!(status, StatusCode::UNAUTHORIZED, "{} {}: {body}", case.method, case.path),
            }
        }
    }
}
