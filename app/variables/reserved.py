"""Which environment variable names belong to the built-in scripts rather than to users.

A built-in script runs with the SSH user's rights, often through sudo, so a name it reads
(its own `DEVOPNESS_*` parameters, the loader's `LD_*`, the shell's `PATH`, `BASH_ENV`,
`IFS`...) decides what runs as root. Such names are refused at the API for every resource
(`reserved_reason`), with two narrow exceptions:

- an application's deploy settings (`APPLICATION_SETTINGS`: its git URL, deploy key and
  health check) may be set on that application by whoever may update it (the same power as
  its `repository` and `build_command` fields: code run as the deploy user, never as root);
- a server's layout (`OPERATOR_SETTINGS`: where nginx, certbot, supervisor... keep their
  files on that machine) is read from server variables stored by the operator, never
  through the API, and only values of the expected shape reach a script
  (`operator_setting`).
"""

from __future__ import annotations

import re

from app.resources_common.validators import CONTROL_CHARACTERS

# Names a program, the loader or a shell reads from its environment to decide what to run.
_RESERVED_PREFIXES = ("DEVOPNESS_", "DV_", "LD_", "BASH_", "GIT_", "SUDO_", "SSH_")
_RESERVED_NAMES = frozenset({
    # The shells.
    "PATH", "ENV", "IFS", "SHELLOPTS", "BASHOPTS", "PS1", "PS2", "PS3", "PS4",
    "PROMPT_COMMAND", "CDPATH", "GLOBIGNORE", "HISTFILE", "POSIXLY_CORRECT", "SHELL",
    "HOME", "USER", "LOGNAME", "PWD", "OLDPWD", "TMPDIR", "MAIL", "TERM",
    # The loader and libc.
    "GCONV_PATH", "GLIBC_TUNABLES", "HOSTALIASES", "LOCPATH", "NLSPATH", "MALLOC_CHECK_",
    "RESOLV_HOST_CONF", "TZDIR",
    # Interpreters and tools the scripts (or the programs they start as root) run.
    "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONWARNINGS", "PYTHONINSPECT",
    "PERL5LIB", "PERL5OPT", "PERLLIB", "RUBYOPT", "RUBYLIB", "BROWSER", "EDITOR", "VISUAL",
    "PAGER", "LESSOPEN", "LESSCLOSE", "SYSTEMD_EDITOR", "SYSTEMD_PAGER", "OPENSSL_CONF",
    "OPENSSL_ENGINES", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "CURL_CA_BUNDLE", "CURL_HOME", "WGETRC", "CERTBOT_DOCS", "APT_CONFIG", "DEBIAN_FRONTEND",
    "SUPERVISOR_SERVER_URL", "SUPERVISOR_USERNAME", "SUPERVISOR_PASSWORD",
})

# An application's deploy settings, read by the application scripts (see the module note).
APPLICATION_SETTINGS = frozenset({
    "DEVOPNESS_APPLICATIONS_DIR", "DEVOPNESS_APPS_DIR",
    "DEVOPNESS_GIT_URL", "DEVOPNESS_GIT_SSH_KEY",
    "DEVOPNESS_HEALTH_CHECK_URL", "DEVOPNESS_HEALTH_CHECK_COMMAND",
    "DEVOPNESS_HEALTH_CHECK_RETRIES", "DEVOPNESS_HEALTH_CHECK_TIMEOUT",
})

_PATH = re.compile(r"^/[^\s]*$")
_NUMBER = re.compile(r"^[0-9]{1,6}$")
_FLAG = re.compile(r"^[01]$")
_URL = re.compile(r"^https?://[^\s'\"%]+$")

# A server's layout: name -> the shape its value must have to reach a script.
OPERATOR_SETTINGS: dict[str, re.Pattern[str]] = {
    "DEVOPNESS_NGINX_DIR": _PATH,
    "DEVOPNESS_NGINX_CONF": _PATH,
    "DEVOPNESS_NGINX_PREFIX": _PATH,
    "DEVOPNESS_NGINX_ERROR_LOG": _PATH,
    "DEVOPNESS_NGINX_PID": _PATH,
    "DEVOPNESS_NGINX_HTTP_PORT": _NUMBER,
    "DEVOPNESS_NGINX_HTTPS_PORT": _NUMBER,
    "DEVOPNESS_NGINX_IPV6": _FLAG,
    "DEVOPNESS_SSL_DIR": _PATH,
    "DEVOPNESS_ACME_WEBROOT": _PATH,
    "DEVOPNESS_CERTBOT_DIR": _PATH,
    "DEVOPNESS_ACME_DIRECTORY": _URL,
    "REQUESTS_CA_BUNDLE": _PATH,
    "DEVOPNESS_APPLICATIONS_DIR": _PATH,
    "DEVOPNESS_APPS_DIR": _PATH,
    "DEVOPNESS_SUPERVISOR_DIR": _PATH,
    "DEVOPNESS_SYSTEMD_DIR": _PATH,
    "DEVOPNESS_DAEMON_SUPERVISOR": re.compile(r"^(auto|systemd|supervisor)$"),
    "DEVOPNESS_FIREWALL": re.compile(r"^(nft|ufw)$"),
    "DEVOPNESS_FIREWALL_DIR": _PATH,
    "DEVOPNESS_FIREWALL_PERSIST": _FLAG,
    "DEVOPNESS_FIREWALL_INBOUND_POLICY": re.compile(r"^(accept|drop|reject)$"),
    "DEVOPNESS_APT_MAX_AGE": _NUMBER,
    "DEVOPNESS_AUTHORIZED_KEYS_FILE": _PATH,
}


def is_reserved(key: str) -> bool:
    name = key.upper()
    return name.startswith(_RESERVED_PREFIXES) or name in _RESERVED_NAMES


def reserved_reason(key: str) -> str | None:
    """Why a user may not set the environment variable `key`, or None when they may."""
    if not is_reserved(key):
        return None
    return (f"{key} is reserved: the built-in scripts read it (names starting with "
            + ", ".join(_RESERVED_PREFIXES)
            + " and shell, loader and tool variables such as PATH or BASH_ENV)")


def application_setting_problem(key: str, value: str) -> str | None:
    """What is wrong with the value of an application deploy setting, if anything."""
    if key == "DEVOPNESS_GIT_SSH_KEY":
        return None  # a PEM key: several lines, only ever written to a file
    if CONTROL_CHARACTERS.search(value):
        return "must be one line without control characters"
    if key in ("DEVOPNESS_HEALTH_CHECK_RETRIES", "DEVOPNESS_HEALTH_CHECK_TIMEOUT"):
        return None if _NUMBER.match(value) else "must be a whole number"
    if key == "DEVOPNESS_HEALTH_CHECK_URL":
        return None if _URL.match(value) else "must be an http(s) URL"
    if key in ("DEVOPNESS_APPLICATIONS_DIR", "DEVOPNESS_APPS_DIR"):
        return None if _PATH.match(value) else "must be an absolute path"
    if key == "DEVOPNESS_GIT_URL" and (value.startswith("-") or "::" in value.split("/")[0]):
        # `-` would be read as an option by git; `ext::` and the like run commands.
        return "must be a git URL (https://, ssh://, git@host:path or a path)"
    return None


def operator_setting(key: str, value: str) -> bool:
    """Whether a stored server variable is a layout setting a script may read as is."""
    shape = OPERATOR_SETTINGS.get(key)
    return (shape is not None and shape.match(value) is not None
            and not CONTROL_CHARACTERS.search(value))
