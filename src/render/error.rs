//! Why rendering failed: which template, for which host, and the template engine's reason.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// Errors of loading templates and rendering them.
#[derive(Debug, Error)]
pub enum RenderError {
    /// A template failed to render (undefined variable, filter refused a value, ...).
    #[error("template {template} for {target}")]
    Render {
        template: String,
        /// `host <node name>` or `the cluster`.
        target: String,
        #[source]
        source: minijinja::Error,
    },
    /// A template (embedded or override) has a syntax error.
    #[error("template {template} from {origin} does not compile")]
    Compile {
        template: String,
        /// `the binary` or the override file's path.
        origin: String,
        #[source]
        source: minijinja::Error,
    },
    /// The `--templates` directory or one of its files could not be read.
    #[error("cannot read template override {}", path.display())]
    ReadOverride {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A file in the `--templates` directory whose name matches no template.
    #[error("{} overrides no template; an override must have the relative name of one of: {}", path.display(), known.join(", "))]
    UnknownOverride { path: PathBuf, known: Vec<&'static str> },
    /// An inventory without a control-plane host (the loader refuses these; a hand-built one may not).
    #[error("no host has the control-plane role; kubeconfigs need an API server")]
    NoControlPlane,
}
