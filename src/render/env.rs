//! The one template environment: strict (an undefined variable is an error), trailing newlines
//! kept, no autoescaping, the address filters, and the templates embedded in the binary with
//! `--templates DIR` overriding any of them by relative name. A block tag (`{% if %}`) alone
//! on its line leaves no blank line behind (`trim_blocks`, `lstrip_blocks`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use serde::Serialize;

use super::RenderError;
use super::filters;

/// Every template the binary carries, by the relative name an override must use: every file
/// under `templates/`, read at compile time (`build.rs`).
pub const EMBEDDED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/templates.rs"));

/// The compiled templates, built once and used for every file of every host.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// The templates embedded in the binary.
    pub fn embedded() -> Result<Templates, RenderError> {
        Templates::build(BTreeMap::new())
    }

    /// The embedded templates, each replaced by the file of the same relative name under
    /// `dir` (e.g. `DIR/kubelet.service.j2`). A file there that matches no template is an error,
    /// so a misspelt override is not silently ignored; dotfiles are skipped.
    pub fn with_overrides(dir: &Path) -> Result<Templates, RenderError> {
        let mut overrides = BTreeMap::new();
        read_overrides(dir, dir, &mut overrides)?;
        Templates::build(overrides)
    }

    /// [`Templates::with_overrides`] when `dir` is given, else [`Templates::embedded`].
    pub fn load(dir: Option<&Path>) -> Result<Templates, RenderError> {
        dir.map_or_else(Templates::embedded, Templates::with_overrides)
    }

    /// Renders template `name` with `context`; `target` (`host <name>`, `the cluster`) names
    /// what it is for in errors.
    pub fn render(&self, name: &str, target: &str, context: &impl Serialize) -> Result<String, RenderError> {
        let fail = |source| RenderError::Render { template: name.to_string(), target: target.to_string(), source };
        let template = self.env.get_template(name).map_err(fail)?;
        template.render(Value::from(Serde(context))).map_err(fail)
    }

    fn build(mut overrides: BTreeMap<String, (PathBuf, String)>) -> Result<Templates, RenderError> {
        if let Some((_, (path, _))) = overrides.iter().find(|(name, _)| !EMBEDDED.iter().any(|(n, _)| n == name)) {
            let known = EMBEDDED.iter().map(|(name, _)| *name).collect();
            return Err(RenderError::UnknownOverride { path: path.clone(), known });
        }
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        // invariant: the default delimiters always build.
        let syntax = SyntaxConfig::builder().keep_trailing_newline(true).trim_blocks(true).lstrip_blocks(true).build();
        env.set_syntax(syntax.expect("default delimiters are valid"));
        filters::register(&mut env);
        for (name, text) in EMBEDDED {
            let (origin, result) = match overrides.remove(*name) {
                Some((path, text)) => (path.display().to_string(), env.add_template_owned(*name, text)),
                None => ("the binary".to_string(), env.add_template(name, text)),
            };
            result.map_err(|source| RenderError::Compile { template: name.to_string(), origin, source })?;
        }
        Ok(Templates { env })
    }
}

fn read_error(path: &Path) -> impl FnOnce(std::io::Error) -> RenderError + '_ {
    move |source| RenderError::ReadOverride { path: path.to_path_buf(), source }
}

/// Collects `relative name -> (path, text)` for every file under `dir`, skipping dotfiles.
fn read_overrides(root: &Path, dir: &Path, found: &mut BTreeMap<String, (PathBuf, String)>) -> Result<(), RenderError> {
    for entry in std::fs::read_dir(dir).map_err(read_error(dir))? {
        let path = entry.map_err(read_error(dir))?.path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
            continue;
        }
        if path.is_dir() {
            read_overrides(root, &path, found)?;
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(read_error(&path))?;
        let relative = path.strip_prefix(root).unwrap_or(&path);
        let name = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        found.insert(name, (path, text));
    }
    Ok(())
}
