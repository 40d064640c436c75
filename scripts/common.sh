# Sourced by scripts/test and scripts/package: where build output and tools live — outside the
# clone, so that a returning machine builds warm — and how the tools get there.

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/selfheal-target}"
# `napi build` always passes --target; with the host's triple set for every tool, cargo, maturin
# and napi build into the same folder and share what they compiled.
CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')}"
[ -n "$CARGO_BUILD_TARGET" ] && export CARGO_BUILD_TARGET
tools="${SELFHEAL_TOOLS:-$HOME/.cache/selfheal-ci-tools}"

# The Python tools of scripts/tools.txt in "$tools/venv", installed again when the list changes.
python_tools() {
  local venv="$tools/venv" stamp
  stamp=$(sha256sum scripts/tools.txt | cut -c1-16)
  if [ "$(cat "$venv/.selfheal-tools" 2>/dev/null)" != "$stamp" ]; then
    echo "--- Python tools into $venv (scripts/tools.txt)"
    python3 -m venv "$venv" &&
      "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/tools.txt &&
      echo "$stamp" >"$venv/.selfheal-tools" || return 1
  fi
  export PATH="$venv/bin:$PATH"
}

# The Node package's development tools (napi-rs' CLI, TypeScript) from its package-lock.json,
# installed again when the lock file changes.
node_tools() {
  local modules=crates/node/node_modules stamp
  stamp=$(sha256sum crates/node/package-lock.json | cut -c1-16)
  [ "$(cat "$modules/.selfheal-tools" 2>/dev/null)" = "$stamp" ] && return 0
  echo "--- Node tools into $modules (package-lock.json)"
  # `npm install --no-save` rather than `npm ci`: a registry mirror that only serves this
  # platform's optional packages leaves the others out of the lock file, which `npm ci` refuses.
  (cd crates/node && npm install --no-save --no-audit --no-fund --loglevel=error) &&
    echo "$stamp" >"$modules/.selfheal-tools"
}

# The web apps the real-build tests heal (tests/fixtures/web/base/*), installed from the npm
# registry into "$SELFHEAL_WEB_HOME/<app>/node_modules" with `npm ci --ignore-scripts`, again
# when their lock file changes. The tests give each case a hard-linked copy.
export SELFHEAL_WEB_HOME="${SELFHEAL_WEB_HOME:-$HOME/.cache/selfheal-web}"
web_apps() {
  local base app stamp
  for base in tests/fixtures/web/base/*/; do
    app=$(basename "$base")
    stamp=$(cat "$base/package.json" "$base/package-lock.json" | sha256sum | cut -c1-16)
    [ "$(cat "$SELFHEAL_WEB_HOME/$app/.selfheal-installed" 2>/dev/null)" = "$stamp" ] && continue
    echo "--- web app $app into $SELFHEAL_WEB_HOME/$app (npm ci)"
    rm -rf "${SELFHEAL_WEB_HOME:?}/$app" && mkdir -p "$SELFHEAL_WEB_HOME/$app" &&
      cp "$base/package.json" "$base/package-lock.json" "$SELFHEAL_WEB_HOME/$app/" &&
      (cd "$SELFHEAL_WEB_HOME/$app" &&
        npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) &&
      echo "$stamp" >"$SELFHEAL_WEB_HOME/$app/.selfheal-installed" || return 1
  done
}

# The workspace's version, which every package carries.
workspace_version() {
  sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml
}
