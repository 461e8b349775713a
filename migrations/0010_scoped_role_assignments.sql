-- Role assignments at subscription or resource-group scope (those at vault or key scope stay
-- with their vault). `scope` is the ARM scope as given: /subscriptions/{s} or
-- /subscriptions/{s}/resourceGroups/{g}.
CREATE TABLE scoped_role_assignments (
    id TEXT NOT NULL PRIMARY KEY,
    scope TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    role_definition_id TEXT NOT NULL,
    created INTEGER NOT NULL
);
