//! Packages served from 127.0.0.1 the way their registries serve them: npm's package documents
//! and tarballs (packed by npm itself) on the scripted [`Server`], Python wheels and source
//! archives in a folder pip reads with `--find-links`.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use super::{Reply, Server};

/// Publishes releases of `name` on `server`, an npm registry: each a version and its manifest
/// (`package.json` is written from it, with the name and version added), all holding `files`;
/// the last is `latest`.
pub(crate) fn publish_npm(
    server: &Server,
    name: &str,
    releases: &[(&str, Value)],
    files: &[(&str, &str)],
) {
    let each: Vec<_> = (releases.iter())
        .map(|(version, manifest)| (*version, manifest.clone(), files))
        .collect();
    publish_npm_releases(server, name, &each);
}

/// One release to publish: its version, manifest and files.
pub(crate) type NpmRelease<'a> = (&'a str, Value, &'a [(&'a str, &'a str)]);

/// [`publish_npm`] with files of each release's own.
pub(crate) fn publish_npm_releases(server: &Server, name: &str, releases: &[NpmRelease<'_>]) {
    let mut versions = serde_json::Map::new();
    for (version, manifest, files) in releases {
        let (document, tarball_path, tarball) = pack_npm(server, name, version, manifest, files);
        versions.insert(version.to_string(), document);
        server.route(
            &tarball_path,
            Reply::Bytes {
                content_type: "application/octet-stream".into(),
                body: tarball,
            },
        );
    }
    let latest = releases
        .last()
        .map(|(version, _, _)| *version)
        .unwrap_or_default();
    let document = json!({
        "name": name,
        "dist-tags": {"latest": latest},
        "versions": versions,
    });
    server.route(
        &format!("/{name}"),
        Reply::Bytes {
            content_type: "application/json".into(),
            body: document.to_string().into_bytes(),
        },
    );
}

/// Packs one release with npm: its version document (with `dist`), the tarball's path on
/// `server` and the tarball.
fn pack_npm(
    server: &Server,
    name: &str,
    version: &str,
    manifest: &Value,
    files: &[(&str, &str)],
) -> (Value, String, Vec<u8>) {
    let port = server
        .url()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let work = super::scratch(&format!("pack-{name}-{version}-{port}"));
    let mut manifest = manifest.clone();
    manifest["name"] = json!(name);
    manifest["version"] = json!(version);
    std::fs::write(work.join("package.json"), manifest.to_string()).unwrap();
    for (path, text) in files {
        std::fs::write(work.join(path), text).unwrap();
    }
    let packed = Command::new("npm")
        .args(["pack", "--json", "--ignore-scripts", "--pack-destination"])
        .arg(&work)
        .current_dir(&work)
        .output()
        .expect("npm runs");
    assert!(
        packed.status.success(),
        "npm pack: {}",
        String::from_utf8_lossy(&packed.stderr)
    );
    let report: Value = serde_json::from_slice(&packed.stdout).expect("npm pack --json");
    let tarball_name = report[0]["filename"].as_str().unwrap().to_string();
    let tarball = std::fs::read(work.join(&tarball_name)).unwrap();
    let tarball_path = format!("/-/{tarball_name}");
    manifest["dist"] = json!({
        "tarball": format!("{}{tarball_path}", server.url()),
        "shasum": report[0]["shasum"],
        "integrity": report[0]["integrity"],
    });
    let _ = std::fs::remove_dir_all(&work);
    (manifest, tarball_path, tarball)
}

/// Writes a wheel of `distribution` `version` holding the module `module` (`text` its
/// `__init__.py`) into `folder`.
pub(crate) fn write_wheel(
    folder: &Path,
    distribution: &str,
    version: &str,
    module: &str,
    text: &str,
) {
    python(
        r#"
import base64, hashlib, zipfile, sys
folder, dist, version, module, text = sys.argv[1:]
info = f"{dist}-{version}.dist-info"
files = {
    f"{module}/__init__.py": text,
    f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n",
    f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
with zipfile.ZipFile(f"{folder}/{dist}-{version}-py3-none-any.whl", "w") as wheel:
    for name, content in files.items():
        data = content.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
        wheel.writestr(name, data)
    record.append(f"{info}/RECORD,,")
    wheel.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
"#,
        &[
            folder.to_str().unwrap(),
            distribution,
            version,
            module,
            text,
        ],
    );
}

/// Writes a source archive of `distribution` `version` whose `setup.py` runs `setup_code`
/// first, into `folder`.
pub(crate) fn write_sdist(folder: &Path, distribution: &str, version: &str, setup_code: &str) {
    python(
        r#"
import io, tarfile, sys
folder, dist, version, code = sys.argv[1:]
base = f"{dist}-{version}"
files = {
    f"{base}/setup.py": code + f"\nfrom setuptools import setup\nsetup(name={dist!r}, version={version!r})\n",
    f"{base}/PKG-INFO": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n",
}
with tarfile.open(f"{folder}/{base}.tar.gz", "w:gz") as archive:
    for name, content in files.items():
        data = content.encode()
        entry = tarfile.TarInfo(name)
        entry.size = len(data)
        archive.addfile(entry, io.BytesIO(data))
"#,
        &[folder.to_str().unwrap(), distribution, version, setup_code],
    );
}

fn python(script: &str, args: &[&str]) {
    let status = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .status()
        .expect("python3 runs");
    assert!(status.success());
}
