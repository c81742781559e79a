use std::path::PathBuf;

/// Why a template could not be read, or a resource in it could not be understood.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read template {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("template is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("template structure: {0}")]
    Structure(String),
    #[error("resource {resource}: {message}")]
    Resource { resource: String, message: String },
}

impl TemplateError {
    pub(crate) fn resource(resource: &str, message: impl Into<String>) -> Self {
        TemplateError::Resource {
            resource: resource.to_owned(),
            message: message.into(),
        }
    }
}
