# Sourced by ./run and ./test: installs what the project needs on a fresh machine.
# - Debian packages: MariaDB client headers and pkg-config (to build mysqlclient), OpenLDAP and
#   SASL headers (to build python-ldap) and, for the tests, Chromium (browser tests drive it
#   through Playwright) and slapd (the directory-password tests run a private one).
# - A virtual environment in .venv with the project's dependencies from pyproject.toml,
#   reinstalled only when pyproject.toml changes.

bootstrap_apt() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "Installing Debian packages: ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -q >/dev/null || true
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}" >/dev/null
    fi
}

bootstrap_venv() {
    local extras="$1"
    if [ ! -x .venv/bin/python ]; then
        echo "Creating .venv"
        python3 -m venv .venv
    fi
    local stamp=".venv/.installed-$extras"
    local want
    want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "Installing Python dependencies (${extras:-runtime})"
        .venv/bin/pip install -q --upgrade pip >/dev/null
        if [ -n "$extras" ]; then
            .venv/bin/pip install -q -e ".[$extras]"
        else
            .venv/bin/pip install -q -e .
        fi
        echo "$want" > "$stamp"
    fi
}

# The server's Korean texts: locale/*/LC_MESSAGES/django.po compiled to .mo (not kept in git).
compile_messages() {
    .venv/bin/python manage.py compilemessages -v0 -i .venv -i node_modules -i var
}
