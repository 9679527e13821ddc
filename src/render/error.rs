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
    /// `render -o DIR` would write into, or delete, something it must not touch.
    #[error("refusing to write the rendered tree to {}: it {relation} {what} {}; choose another output directory", dir.display(), path.display())]
    OutputProtected { dir: PathBuf, relation: &'static str, what: &'static str, path: PathBuf },
    /// The output directory has files and `--force` was not given.
    #[error("{} is not empty; pass --force to replace it", dir.display())]
    OutputNotEmpty { dir: PathBuf },
    /// `--force` was given for a directory no earlier `render` wrote.
    #[error("refusing to replace {}: it has no {marker} file, so `render` did not write it; empty it yourself or choose another output directory", dir.display())]
    OutputNotOurs { dir: PathBuf, marker: &'static str },
    /// The rendered tree could not be written.
    #[error("cannot write the rendered tree under {}", path.display())]
    Output {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// An inventory without a control-plane host (the loader refuses these; a hand-built one may not).
    #[error("no host has the control-plane role; kubeconfigs need an API server")]
    NoControlPlane,
}
