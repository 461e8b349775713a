//! The `scoped_role_assignments` table: role assignments at subscription or resource-group
//! scope. Assignments at vault or key scope are stored with their vault (`store::vaults`).

use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use crate::auth::rbac::{AssignmentScope, RoleAssignment};

/// One assignment and the ARM scope it is at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopedAssignment {
    pub scope: String,
    pub assignment: RoleAssignment,
}

pub async fn list(conn: &mut SqliteConnection) -> Result<Vec<ScopedAssignment>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, scope, principal_id, role_definition_id FROM scoped_role_assignments ORDER BY created, id",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let uuid = |column: &str| -> Result<Uuid, sqlx::Error> {
                let text: String = row.try_get(column)?;
                Uuid::parse_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
            };
            let scope: String = row.try_get("scope")?;
            Ok(ScopedAssignment {
                assignment: RoleAssignment {
                    id: uuid("id")?,
                    principal_id: uuid("principal_id")?,
                    role_definition_id: uuid("role_definition_id")?,
                    scope: AssignmentScope::Inherited(scope.clone()),
                },
                scope,
            })
        })
        .collect()
}

pub async fn insert(conn: &mut SqliteConnection, scoped: &ScopedAssignment, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO scoped_role_assignments (id, scope, principal_id, role_definition_id, created) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(scoped.assignment.id.to_string())
    .bind(&scoped.scope)
    .bind(scoped.assignment.principal_id.to_string())
    .bind(scoped.assignment.role_definition_id.to_string())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete(conn: &mut SqliteConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    let result =
        sqlx::query("DELETE FROM scoped_role_assignments WHERE id = ?").bind(id.to_string()).execute(conn).await?;
    Ok(result.rows_affected() > 0)
}
