//! Role-based access control. Casbin is the policy engine and the source of truth: the model is
//! `policies/model.conf`, the grants live in `role_grants` (seeded from each module's
//! `default_grants()` the first time the module's permissions are seen). A user's permission
//! set is resolved with Casbin once per policy version and role combination, then checked as a
//! set lookup, so a request never calls Casbin.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use sqlx::Row;

use crate::db::{Db, DbError, Tx};
use crate::module::Registry;

pub const MODEL: &str = include_str!("../../policies/model.conf");
/// Seeds the default grants (`Module::default_grants`, the one place every module declares
/// them) of every permission not seen before, in one transaction; returns the ids of modules seen for the first time. Grants an
/// administrator revoked later are never re-added: a permission is seeded only once.
pub async fn seed_new_modules(db: &Db, registry: &Registry) -> Result<Vec<&'static str>, DbError> {
    let mut tx = db.begin().await?;
    let seen_modules: HashSet<String> = sqlx::query("SELECT module_id FROM modules_seen")
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let seen: HashSet<String> = sqlx::query("SELECT permission FROM permissions_seen")
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let now = crate::clock::now_rfc3339();
    let mut new_modules = Vec::new();
    let mut changed = false;
    for module in registry.all() {
        for permission in module.permissions() {
            if seen.contains(permission.code) {
                continue;
            }
            let grants: BTreeSet<&str> = module
                .default_grants()
                .iter()
                .filter(|(_, p)| *p == permission.code)
                .map(|(r, _)| *r)
                .collect();
            for role in grants {
                sqlx::query(
                    "INSERT INTO role_grants (role_name, permission, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (role_name, permission) DO NOTHING",
                )
                .bind(role)
                .bind(permission.code)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("INSERT INTO permissions_seen (permission, first_seen_at) VALUES ($1, $2)")
                .bind(permission.code)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
            changed = true;
        }
        if !seen_modules.contains(module.id()) {
            sqlx::query("INSERT INTO modules_seen (module_id, first_seen_at) VALUES ($1, $2)")
                .bind(module.id())
                .bind(&now)
                .execute(&mut *tx)
                .await?;
            new_modules.push(module.id());
        }
    }
    if changed {
        bump_version(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(new_modules)
}

/// Marks the policy as changed so every server reloads it on its next request.
pub async fn bump_version(tx: &mut Tx) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE settings SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT), updated_at = $1 \
         WHERE key = 'policy_version'",
    )
    .bind(crate::clock::now_rfc3339())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Grants a role a permission (admin action); bumps the policy version.
pub async fn grant(tx: &mut Tx, role: &str, permission: &str) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO role_grants (role_name, permission, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (role_name, permission) DO UPDATE SET created_at = excluded.created_at, \
         voided_at = NULL, voided_by = NULL WHERE role_grants.voided_at IS NOT NULL",
    )
    .bind(role)
    .bind(permission)
    .bind(crate::clock::now_rfc3339())
    .execute(&mut **tx)
    .await?;
    bump_version(tx).await
}

/// Revokes a permission from a role (admin action); bumps the policy version.
pub async fn revoke(tx: &mut Tx, role: &str, permission: &str) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE role_grants SET voided_at = $3 \
         WHERE role_name = $1 AND permission = $2 AND voided_at IS NULL",
    )
    .bind(role)
    .bind(permission)
    .bind(crate::clock::now_rfc3339())
    .execute(&mut **tx)
    .await?;
    bump_version(tx).await
}

/// One loaded version of the policy: the Casbin enforcer over the stored grants.
pub struct Policy {
    pub version: i64,
    pub enforcer: Enforcer,
    /// Permissions of enabled modules, the only ones a set may contain.
    permissions: Vec<String>,
}

impl Policy {
    /// Loads the grants of `version` into a Casbin enforcer.
    pub async fn load(db: &Db, registry: &Registry, version: i64) -> Result<Self, PolicyError> {
        let rows = sqlx::query(
            "SELECT role_name, permission FROM role_grants WHERE voided_at IS NULL \
             ORDER BY role_name, permission",
        )
        .fetch_all(db.read())
        .await
        .map_err(DbError::from)?;
        let model = DefaultModel::from_str(MODEL).await?;
        let mut enforcer = Enforcer::new(model, MemoryAdapter::default()).await?;
        let rules: Vec<Vec<String>> = rows
            .into_iter()
            .map(|r| vec![r.get::<String, _>(0), r.get::<String, _>(1)])
            .collect();
        if !rules.is_empty() {
            enforcer.add_policies(rules).await?;
        }
        let permissions = registry
            .enabled()
            .flat_map(|m| m.permissions().iter().map(|p| p.code.to_string()))
            .collect();
        Ok(Self {
            version,
            enforcer,
            permissions,
        })
    }

    /// The permissions any of `roles` holds, asked of Casbin.
    pub fn resolve(&self, roles: &[String]) -> HashSet<String> {
        self.permissions
            .iter()
            .filter(|p| {
                roles.iter().any(|r| {
                    self.enforcer
                        .enforce((r.as_str(), p.as_str()))
                        .unwrap_or(false)
                })
            })
            .cloned()
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("policy engine: {0}")]
    Casbin(#[from] casbin::Error),
}

type SetKey = (i64, Vec<String>);

/// The current policy and the permission sets resolved from it.
#[derive(Default)]
pub struct Rbac {
    policy: tokio::sync::Mutex<Option<Arc<Policy>>>,
    sets: Mutex<HashMap<SetKey, Arc<HashSet<String>>>>,
}

impl Rbac {
    /// The permission set of a role combination under policy `version`, loading the policy
    /// when the version moved (another server or an admin changed it).
    pub async fn permissions(
        &self,
        db: &Db,
        registry: &Registry,
        version: i64,
        roles: &[String],
    ) -> Result<Arc<HashSet<String>>, PolicyError> {
        let mut key_roles = roles.to_vec();
        key_roles.sort();
        let key = (version, key_roles);
        if let Some(set) = self
            .sets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(set.clone());
        }
        let policy = self.policy(db, registry, version).await?;
        let set = Arc::new(policy.resolve(&key.1));
        let mut sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        sets.retain(|(v, _), _| *v == version);
        sets.insert(key, set.clone());
        Ok(set)
    }

    /// The loaded policy of `version` (reloaded when the version differs).
    pub async fn policy(
        &self,
        db: &Db,
        registry: &Registry,
        version: i64,
    ) -> Result<Arc<Policy>, PolicyError> {
        let mut slot = self.policy.lock().await;
        if let Some(p) = slot.as_ref() {
            if p.version == version {
                return Ok(p.clone());
            }
        }
        let loaded = Arc::new(Policy::load(db, registry, version).await?);
        *slot = Some(loaded.clone());
        Ok(loaded)
    }
}

/// The stored policy version.
pub async fn current_version(db: &Db) -> Result<i64, DbError> {
    let v: Option<String> = sqlx::query("SELECT value FROM settings WHERE key = 'policy_version'")
        .fetch_optional(db.read())
        .await?
        .map(|r| r.get(0));
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}
