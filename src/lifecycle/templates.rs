//! The templates a tenant may create from: the operator's (files, every tenant's) and
//! the tenant's own (saved through the API, or from one of its clusters). A tenant's
//! template never shadows the operator's: a name is the operator's or one tenant's.

use std::sync::Arc;

use super::create::CreateError;
use crate::cluster::Cluster;
use crate::domain::TenantId;
use crate::domain::attributes::{INJECT, TEMPLATE, parse_component_parameter};
use crate::frameworks::catalogue::Catalogue;
use crate::frameworks::inject::component_names;
use crate::frameworks::request::ComponentRequest;
use crate::manifest::Manifest;
use crate::occi::text::Attribute;
use crate::store::{Store, StoreError};
use crate::templates::{
    self, Origin, RawTemplate, Template, TemplateError, TemplateName, Templates,
};

/// Why a template was not saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveTemplateError {
    #[error(transparent)]
    Invalid(#[from] TemplateError),
    /// The name is the operator's, or the tenant has a template of that name.
    #[error("name: {0}")]
    Taken(String),
    #[error("saving the template: {0}")]
    Store(#[source] StoreError),
}

impl From<StoreError> for SaveTemplateError {
    fn from(error: StoreError) -> SaveTemplateError {
        match error {
            StoreError::TemplateTaken(_) => SaveTemplateError::Taken(error.to_string()),
            other => SaveTemplateError::Store(other),
        }
    }
}

/// Why a template was not deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteTemplateError {
    #[error(
        "template {0:?} is the operator's: it is a file of the server's, not deleted through the API"
    )]
    Operator(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct TemplateBook {
    pub operator: Arc<Templates>,
    pub store: Store,
    pub manifest: Arc<Manifest>,
    pub catalogue: Arc<Catalogue>,
}

impl TemplateBook {
    /// The operator's templates, then the tenant's, each by name.
    pub async fn list(&self, tenant: &TenantId) -> Result<Vec<(Origin, Template)>, StoreError> {
        let mut all: Vec<(Origin, Template)> = self
            .operator
            .iter()
            .map(|t| (Origin::Operator, t.clone()))
            .collect();
        all.extend(
            self.store
                .templates(tenant)
                .await?
                .into_iter()
                .map(|t| (Origin::Tenant, t)),
        );
        Ok(all)
    }

    /// The operator's or the tenant's template `name`.
    pub async fn find(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<Option<(Origin, Template)>, StoreError> {
        if let Some(template) = self.operator.get(name) {
            return Ok(Some((Origin::Operator, template.clone())));
        }
        Ok(self
            .store
            .template(tenant, name)
            .await?
            .map(|t| (Origin::Tenant, t)))
    }

    /// Checks and saves the tenant's template.
    pub async fn save(
        &self,
        tenant: &TenantId,
        raw: RawTemplate,
    ) -> Result<Template, SaveTemplateError> {
        let template = Template::check(raw, None, &self.manifest, &self.catalogue)?;
        if self.operator.get(template.name.as_str()).is_some() {
            return Err(SaveTemplateError::Taken(format!(
                "{:?} is the name of one of the operator's templates",
                template.name.as_str()
            )));
        }
        self.store.insert_template(tenant, template.clone()).await?;
        tracing::info!(tenant = tenant.as_str(), template = %template.name, "template saved");
        Ok(template)
    }

    /// Saves what the tenant's cluster was created with (its components, parameters,
    /// count and infrastructure, no secret) as its template `name`.
    pub async fn save_from_cluster(
        &self,
        tenant: &TenantId,
        cluster: &Cluster,
        name: TemplateName,
        description: String,
    ) -> Result<Template, SaveTemplateError> {
        let raw = RawTemplate {
            name: Some(name.to_string()),
            description,
            components: None,
            attributes: templates::from_cluster(cluster, &self.manifest),
        };
        self.save(tenant, raw).await
    }

    /// Deletes the tenant's template `name`: whether it had one.
    pub async fn delete(&self, tenant: &TenantId, name: &str) -> Result<bool, DeleteTemplateError> {
        if self.operator.get(name).is_some() {
            return Err(DeleteTemplateError::Operator(name.to_string()));
        }
        Ok(self.store.delete_template(tenant, name).await?)
    }

    /// A create's attributes with the template it names (`icclab.disco.template`)
    /// applied under them: the template's attributes, less those the create gives, then
    /// the create's. Components the create names (in `inject`, or `chosen` otherwise)
    /// replace the template's, and its parameters of components no longer named go too.
    pub async fn apply(
        &self,
        tenant: &TenantId,
        given: Vec<Attribute>,
        chosen: Option<&[ComponentRequest]>,
    ) -> Result<Vec<Attribute>, CreateError> {
        let Some(named) = given.iter().find(|a| a.name == TEMPLATE) else {
            return Ok(given);
        };
        let name = named.value.to_string();
        let template = match self.find(tenant, &name).await? {
            Some((_, template)) => template,
            None => {
                let known = self
                    .list(tenant)
                    .await?
                    .into_iter()
                    .map(|(_, t)| t.name.to_string())
                    .collect();
                return Err(CreateError::UnknownTemplate {
                    name: name.chars().take(80).collect(),
                    known,
                });
            }
        };
        let named: Option<Vec<String>> = match chosen {
            Some(components) => Some(components.iter().map(|c| c.name.to_string()).collect()),
            None => given
                .iter()
                .find(|a| a.name == INJECT)
                .and_then(|a| a.value.as_str())
                .and_then(component_names),
        };
        let dropped = |name: &str| match (&named, parse_component_parameter(name)) {
            (Some(named), Some((component, _))) => !named.iter().any(|n| n == component),
            _ => false,
        };
        let overridden = |name: &str| {
            given.iter().any(|a| a.name == name)
                || (chosen.is_some() && name == INJECT)
                || dropped(name)
        };
        let mut attributes: Vec<Attribute> = template
            .attributes()
            .into_iter()
            .filter(|a| !overridden(&a.name))
            .collect();
        attributes.extend(given);
        Ok(attributes)
    }
}
