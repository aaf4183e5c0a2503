"""Credentials and the child environment for the git CLI (argo-contract.md §12.3).

Argo picks, in this order: an SSH private key, HTTP basic auth when the username or the password
is non-empty, else anonymous. We mirror that choice, but hand secrets to git without ever putting
them in a command line or a URL: the SSH key goes to a private 0600 file named by
``GIT_SSH_COMMAND``; basic-auth values travel in environment variables of the git child only and
are read back by a shell credential helper. The child environment is built from scratch so the
user's git configuration, askpass programs and agents never take part.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from argoexec.models import GitArtifact, SecretKeySelector
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.secrets import SecretNotFoundError, SecretResolver, register_basic_auth
from artifacts.settings import TransferSettings

# Argo's GetUser: the user part of an scp-like or ssh:// URL, "git" when there is none.
_SSH_USER = re.compile(r"^(ssh://)?([^/:]*?)@[^@]+$")
_DEFAULT_SSH_USER = "git"
_SCHEME_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^@/?#]*@)?")
_SCP_URL = re.compile(r"^(?P<userinfo>[^@/:]*@)(?P<rest>[^/:]+:.*)$")
_USERINFO_IN_TEXT = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^@/\s'\"]*@")

# Env vars that carry basic-auth values to the credential helper (never to argv).
USERNAME_ENV = "ARGO_GIT_USERNAME"
PASSWORD_ENV = "ARGO_GIT_PASSWORD"
_CREDENTIAL_HELPER = (
    '!f() { test "$1" = get || exit 0; '
    f'printf \'username=%s\\npassword=%s\\n\' "${USERNAME_ENV}" "${PASSWORD_ENV}"; }}; f'
)


def get_user(repo: str) -> str:
    """The SSH user for ``repo`` (Argo's ``GetUser``)."""
    match = _SSH_USER.match(repo)
    if match and match.group(2):
        return match.group(2)
    return _DEFAULT_SSH_USER


def strip_userinfo(repo: str) -> str:
    """``repo`` without any ``user[:password]@`` part, for messages and locations."""
    match = _SCHEME_URL.match(repo)
    if match:
        return match.group("scheme") + repo[match.end() :]
    match = _SCP_URL.match(repo)
    if match:
        return match.group("rest")
    return repo


def scrub_userinfo(text: str) -> str:
    """Remove userinfo from every URL mentioned in ``text`` (e.g. git's stderr)."""
    return _USERINFO_IN_TEXT.sub(lambda m: m.group("scheme"), text)


def is_http_url(repo: str) -> bool:
    return repo.lower().startswith(("http://", "https://"))


@dataclass
class GitCredentials:
    """The resolved credential choice for one artifact; secret values stay in this object."""

    kind: str  # "ssh", "basic" or "anonymous"
    secret_names: list[str] = field(default_factory=list)
    ssh_private_key: str = ""
    username: str = ""
    password: str = field(default="", repr=False)

    def describe(self) -> str:
        names = " and ".join(f"'{n}'" for n in dict.fromkeys(self.secret_names))
        secrets = "secrets" if len(set(self.secret_names)) > 1 else "secret"
        if self.kind == "ssh":
            return f"ssh key from {secrets} {names}"
        if self.kind == "basic":
            return f"basic auth from {secrets} {names}"
        return "anonymous"

    def secret_values(self) -> list[str]:
        return [v for v in (self.ssh_private_key, self.password, self.username) if v]


def _read(resolver: SecretResolver, selector: SecretKeySelector | None) -> str:
    if selector is None or not (selector.name or selector.key):
        return ""
    try:
        return resolver.resolve(selector)
    except SecretNotFoundError as exc:
        raise ArtifactError(
            f"cannot read git credentials: {exc}", code=ErrorCode.BAD_REQUEST
        ) from exc


def _register_userinfo(repo: str) -> None:
    """A ``user:password@`` in an HTTP(S) URL is sent as basic auth too: hide it the same way."""
    if not is_http_url(repo):
        return
    try:
        parts = urlsplit(repo)
        user, password = parts.username, parts.password
    except ValueError:
        return
    if password:
        register_basic_auth(unquote(user or ""), unquote(password))


def resolve_credentials(git: GitArtifact, resolver: SecretResolver) -> GitCredentials:
    """Resolve the artifact's secrets and choose the auth method the way Argo does."""
    _register_userinfo(git.repo)
    key = _read(resolver, git.ssh_private_key_secret)
    if key:
        assert git.ssh_private_key_secret is not None
        return GitCredentials("ssh", [git.ssh_private_key_secret.name], ssh_private_key=key)
    username = _read(resolver, git.username_secret)
    password = _read(resolver, git.password_secret)
    if username or password:
        names = [s.name for s in (git.username_secret, git.password_secret) if s and s.name]
        # What the credential helper hands git, hence what a server sees (and may echo back).
        register_basic_auth(_one_line(username), _one_line(password))
        return GitCredentials("basic", names, username=username, password=password)
    return GitCredentials("anonymous")


def _one_line(value: str) -> str:
    # Secret files often end with a newline; git's credential protocol rejects one.
    return value.removesuffix("\n").removesuffix("\r")


def _ssh_command(
    git: GitArtifact, creds: GitCredentials, settings: TransferSettings, workdir: Path
) -> str:
    args = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes"]
    args += ["-o", f"ConnectTimeout={max(1, round(settings.connect_timeout))}"]
    if not _SSH_USER.match(git.repo):
        args += ["-o", f"User={_DEFAULT_SSH_USER}"]
    if git.insecure_ignore_host_key:
        args += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        args += ["-o", "LogLevel=ERROR"]  # no "Permanently added" noise in error messages
    else:
        args += ["-o", "StrictHostKeyChecking=yes"]
        if settings.ssh_known_hosts is not None:
            args += ["-o", f"UserKnownHostsFile={settings.ssh_known_hosts}"]
            args += ["-o", "GlobalKnownHostsFile=/dev/null"]
    if creds.kind == "ssh":
        key_file = workdir / "id_key"
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(creds.ssh_private_key.strip() + "\n")  # ssh refuses keys without the EOL
        args += ["-i", str(key_file), "-o", "IdentitiesOnly=yes"]
    return shlex.join(args)


def child_environment(
    git: GitArtifact,
    creds: GitCredentials,
    settings: TransferSettings,
    workdir: Path,
) -> dict[str, str]:
    """A minimal environment for git children; files it needs are created under ``workdir``."""
    home = workdir / "home"
    home.mkdir(mode=0o700, exist_ok=True)
    env = {
        # PATH only locates git, ssh and git's helpers; nothing else is inherited.
        "PATH": os.pathsep.join(os.get_exec_path()),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_SSH_COMMAND": _ssh_command(git, creds, settings, workdir),
        "LC_ALL": "C",  # classification reads git's English messages
    }
    config = {
        "protocol.ext.allow": "never",  # ext:: would run arbitrary commands
        "http.lowSpeedLimit": "1",
        "http.lowSpeedTime": str(max(1, round(settings.read_timeout))),
        "advice.detachedHead": "false",
        "maintenance.auto": "false",  # no background gc in a throwaway checkout
        "gc.auto": "0",
        "init.defaultBranch": "master",
    }
    if git.insecure_skip_tls:
        config["http.sslVerify"] = "false"
    if creds.kind == "basic":
        config["credential.helper"] = _CREDENTIAL_HELPER
        env[USERNAME_ENV] = _one_line(creds.username)
        env[PASSWORD_ENV] = _one_line(creds.password)
    # Config through the environment reaches every git child, submodule fetches included.
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for i, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


def clone_url(git: GitArtifact, creds: GitCredentials) -> str:
    """The URL handed to git: with basic auth from secrets, URL userinfo must not compete."""
    if creds.kind == "basic" and is_http_url(git.repo):
        return strip_userinfo(git.repo)
    return git.repo
