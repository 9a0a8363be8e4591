//! Each tenant's cluster templates, by name: saved checked, read back as they were saved
//! (the operator's templates are files, `templates::Templates`).

use std::collections::BTreeMap;

use super::db::params;
use chrono::Utc;

use super::rows::timestamp;
use super::{Store, StoreError};
use crate::domain::{Scalar, TenantId};
use crate::templates::{Template, TemplateName};

impl Store {
    /// Saves the tenant's template; a name the tenant has already is refused.
    pub async fn insert_template(
        &self,
        tenant: &TenantId,
        template: Template,
    ) -> Result<(), StoreError> {
        let tenant = tenant.clone();
        self.call(move |conn| {
            let attributes = serde_json::to_string(&template.attributes)?;
            let inserted = conn.execute(
                "INSERT INTO templates (tenant, name, description, attributes, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (tenant, name) DO NOTHING",
                params![
                    tenant.as_str(),
                    template.name.as_str(),
                    template.description,
                    attributes,
                    timestamp(Utc::now())
                ],
            )?;
            if inserted == 0 {
                return Err(StoreError::TemplateTaken(template.name.to_string()));
            }
            Ok(())
        })
        .await
    }

    /// The tenant's templates, by name.
    pub async fn templates(&self, tenant: &TenantId) -> Result<Vec<Template>, StoreError> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            conn.query_map(
                "SELECT name, description, attributes FROM templates WHERE tenant = ?1 ORDER BY name",
                params![tenant.as_str()],
                read,
            )?
            .into_iter()
            .map(decode)
            .collect()
        })
        .await
    }

    /// The tenant's template `name`, if it has one.
    pub async fn template(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<Option<Template>, StoreError> {
        let (tenant, name) = (tenant.clone(), name.to_string());
        self.read(move |conn| {
            conn.query_opt(
                "SELECT name, description, attributes FROM templates WHERE tenant = ?1 AND name = ?2",
                params![tenant.as_str(), name],
                read,
            )?
            .map(decode)
            .transpose()
        })
        .await
    }

    /// Deletes the tenant's template `name`; whether it had one.
    pub async fn delete_template(&self, tenant: &TenantId, name: &str) -> Result<bool, StoreError> {
        let (tenant, name) = (tenant.clone(), name.to_string());
        self.call(move |conn| {
            let deleted = conn.execute(
                "DELETE FROM templates WHERE tenant = ?1 AND name = ?2",
                params![tenant.as_str(), name],
            )?;
            Ok(deleted > 0)
        })
        .await
    }
}

type TemplateRow = (String, String, String);

fn read(row: &super::db::Row) -> Result<TemplateRow, StoreError> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
}

fn decode((name, description, attributes): TemplateRow) -> Result<Template, StoreError> {
    let corrupt = |problem: String| StoreError::Corrupt {
        id: format!("template {name}"),
        problem,
    };
    let parsed = TemplateName::parse(&name).map_err(corrupt)?;
    let attributes: BTreeMap<String, Scalar> =
        serde_json::from_str(&attributes).map_err(|e| corrupt(e.to_string()))?;
    Ok(Template {
        name: parsed,
        description,
        attributes,
    })
}
