//! The debug binaries already built (`cargo build --workspace --bins`), deployed as they are:
//! each function's binary becomes `<dir>/<LogicalId>/bootstrap`, and a copy of the template
//! points each function's `CodeUri` at its folder (and `AWS::Include` at the contract's absolute
//! path), so `sam deploy --template-file` zips and uploads them without `sam build` — whose
//! cargo-lambda release build takes minutes (DEPLOY-NOTES §2: 382 s cold, ~1 min a function).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use orderflow_template::Template;

use super::DeployError;

/// The template text with each listed function's `CodeUri` replaced by its folder and each
/// relative `AWS::Include` `Location` made absolute against `template_dir`. Every listed
/// function must have a `CodeUri` line.
pub fn staged_template(
    text: &str,
    template_dir: &Path,
    code_dirs: &BTreeMap<String, PathBuf>,
) -> Result<String, String> {
    let mut resource: Option<&str> = None;
    let mut staged: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for line in text.lines() {
        // A resource's logical id: a key two spaces in, under `Resources:`.
        if let Some(key) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':')) {
            if !key.starts_with(' ') && !key.contains(' ') {
                resource = Some(key);
            }
        }
        if !line.is_empty() && !line.starts_with([' ', '#']) {
            resource = None;
        }
        let (indent, rest) = line.split_at(line.len() - line.trim_start().len());
        let dir = resource.and_then(|r| code_dirs.get(r).map(|d| (r, d)));
        if let (Some(_), Some((r, d))) = (rest.strip_prefix("CodeUri:"), dir) {
            out.push(format!("{indent}CodeUri: {}", d.display()));
            staged.push(r);
            continue;
        }
        match rest.strip_prefix("Location:").map(str::trim) {
            Some(file) if !file.is_empty() && !file.contains("://") && !file.starts_with('/') => {
                out.push(format!(
                    "{indent}Location: {}",
                    template_dir.join(file).display()
                ));
            }
            _ => out.push(line.to_owned()),
        }
    }
    let missing: Vec<&String> = code_dirs
        .keys()
        .filter(|id| !staged.contains(&id.as_str()))
        .collect();
    if !missing.is_empty() {
        return Err(format!("no CodeUri line for {missing:?}"));
    }
    Ok(out.join("\n") + "\n")
}

/// Stages every function of `template` from `bin_dir` into `dir`; returns the staged template.
pub fn stage(template: &Path, bin_dir: &Path, dir: &Path) -> Result<PathBuf, DeployError> {
    let err = |message: String| DeployError::Template {
        path: template.display().to_string(),
        message,
    };
    let functions = Template::from_path(template)
        .and_then(|t| t.functions())
        .map_err(|e| err(e.to_string()))?;
    let dir = std::path::absolute(dir)?;
    let mut code_dirs = BTreeMap::new();
    for f in &functions {
        let binary = bin_dir.join(&f.binary);
        if !binary.is_file() {
            return Err(DeployError::step(
                "staging the debug bootstraps",
                format!(
                    "{} is missing: `cargo build --workspace --bins` builds it",
                    binary.display()
                ),
            ));
        }
        let code = dir.join(&f.logical_id);
        std::fs::create_dir_all(&code)?;
        let bootstrap = code.join("bootstrap");
        let _ = std::fs::remove_file(&bootstrap);
        // A hard link costs nothing; another file system needs a copy.
        if std::fs::hard_link(&binary, &bootstrap).is_err() {
            std::fs::copy(&binary, &bootstrap)?;
        }
        code_dirs.insert(f.logical_id.clone(), code);
    }
    let text = std::fs::read_to_string(template)?;
    let template_dir = std::path::absolute(template)?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let staged = staged_template(&text, &template_dir, &code_dirs).map_err(err)?;
    let out = dir.join("template.yaml");
    std::fs::write(&out, staged)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> (String, PathBuf) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml");
        (std::fs::read_to_string(&path).unwrap(), path)
    }

    #[test]
    fn every_function_of_the_shipped_template_points_at_its_staged_folder_and_nothing_else_changes()
    {
        let (text, path) = shipped();
        let functions = Template::from_path(&path).unwrap().functions().unwrap();
        let code_dirs: BTreeMap<String, PathBuf> = functions
            .iter()
            .map(|f| {
                (
                    f.logical_id.clone(),
                    PathBuf::from(format!("/s/{}", f.logical_id)),
                )
            })
            .collect();
        assert!(code_dirs.len() >= 5);
        let staged = staged_template(&text, Path::new("/repo/infra"), &code_dirs).unwrap();
        for (id, dir) in &code_dirs {
            assert!(
                staged.contains(&format!("CodeUri: {}", dir.display())),
                "{id}"
            );
        }
        assert!(staged.contains("Location: /repo/infra/openapi.yaml"));
        let changed = text
            .lines()
            .zip(staged.lines())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            changed,
            code_dirs.len() + 1,
            "only CodeUri and Location lines"
        );
        assert_eq!(text.lines().count(), staged.lines().count());
        // The staged template is still a template the model reads, with the same functions.
        let file = std::env::temp_dir().join(format!("staged-{}.yaml", uuid::Uuid::new_v4()));
        std::fs::write(&file, &staged).unwrap();
        let again = Template::from_path(&file).unwrap().functions().unwrap();
        std::fs::remove_file(&file).unwrap();
        assert_eq!(again.len(), functions.len());
        assert_eq!(
            again[0].code_uri.as_deref(),
            Some("/s/".to_owned() + &again[0].logical_id).as_deref()
        );
    }

    #[test]
    fn a_function_without_a_code_uri_line_is_refused() {
        let text = "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Handler: x\n";
        let dirs = BTreeMap::from([("F".to_owned(), PathBuf::from("/s/F"))]);
        let e = staged_template(text, Path::new("/"), &dirs).unwrap_err();
        assert!(e.contains("\"F\""), "{e}");
    }

    #[test]
    fn a_code_uri_of_another_resource_or_an_absolute_location_is_left_alone() {
        let text = "Resources:\n  G:\n    Properties:\n      CodeUri: ..\n  F:\n    Properties:\n      CodeUri: ..\n      Location: /abs/x.yaml\n";
        let dirs = BTreeMap::from([("F".to_owned(), PathBuf::from("/s/F"))]);
        let staged = staged_template(text, Path::new("/t"), &dirs).unwrap();
        assert_eq!(
            staged,
            "Resources:\n  G:\n    Properties:\n      CodeUri: ..\n  F:\n    Properties:\n      CodeUri: /s/F\n      Location: /abs/x.yaml\n"
        );
    }
}
