//! The operator's templates: every `*.toml` of the configured directory, each checked
//! at start-up; one that does not check stops the start with the file's name and why.

use std::path::{Path, PathBuf};

use super::{RawTemplate, Template, TemplateError};
use crate::frameworks::catalogue::Catalogue;
use crate::manifest::Manifest;

/// The operator's templates, by name.
#[derive(Debug, Clone, Default)]
pub struct Templates {
    templates: Vec<Template>,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplatesError {
    #[error("reading the templates {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("template {path}: {problem}")]
    Syntax { path: PathBuf, problem: String },
    #[error("template {path}: {source}")]
    Invalid {
        path: PathBuf,
        source: Box<TemplateError>,
    },
    #[error("template {path}: names itself {name:?}; a file's template is named as the file")]
    Misnamed { path: PathBuf, name: String },
}

impl Templates {
    /// Reads and checks every `<dir>/*.toml`, in name order.
    pub fn load(
        dir: &Path,
        manifest: &Manifest,
        catalogue: &Catalogue,
    ) -> Result<Templates, TemplatesError> {
        let read_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TemplatesError::Read { path, source }
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(read_err(dir))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|e| e == "toml") && path.is_file())
            .collect();
        files.sort();
        let mut templates = Vec::with_capacity(files.len());
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(read_err(&file))?;
            let raw = RawTemplate::from_toml(&text).map_err(|problem| TemplatesError::Syntax {
                path: file.clone(),
                problem,
            })?;
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some(name) = &raw.name
                && *name != stem
            {
                return Err(TemplatesError::Misnamed {
                    path: file,
                    name: name.clone(),
                });
            }
            let template =
                Template::check(raw, Some(&stem), manifest, catalogue).map_err(|source| {
                    TemplatesError::Invalid {
                        path: file.clone(),
                        source: Box::new(source),
                    }
                })?;
            templates.push(template);
        }
        Ok(Templates { templates })
    }

    pub fn get(&self, name: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.name.as_str() == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Template> {
        self.templates.iter()
    }
}
