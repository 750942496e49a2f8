"""This state folder's PostgreSQL: where its cluster lives, starting it, and securing one an earlier version made.

As root the server runs as the `postgres` OS user, which cannot enter the owner-only state folder: the cluster then
lives under /var/tmp, in a folder only that user may enter. That folder is named after the state folder's path, so
it outlives a state folder deleted and made anew at the same path (a fresh clone, `rm -rf var`); the new state
folder's secrets cannot open it. A cluster therefore records which secrets made it (`made-with`, a hash of the
superuser's password), and one made with other secrets is set aside, not deleted, and a fresh one made.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from simpul.platform import postgres, probes
from simpul.platform.exceptions import PlatformError, SuperuserRefused
from simpul.platform.permissions import write_private
from simpul.platform.processes import Started, forget, recall, remember
from simpul.settings import Settings

Progress = Callable[[str], None]
MADE_WITH = "made-with"  # in the cluster's home: the fingerprint of the superuser password it was made with


class LocalPostgres:
    """The PostgreSQL cluster of one state folder, with the roles of the settings and the secrets folder's
    passwords."""

    def __init__(self, settings: Settings, state: Path) -> None:
        self.settings = settings
        self.state = state

    @property
    def url(self) -> str:
        """The application role's URL with its password, for connecting (print `address` instead)."""
        return postgres.app_url(self.settings, postgres.load_passwords(self.settings.secrets_folder))

    @property
    def address(self) -> str:
        """The application role's URL as status shows it: the password masked."""
        return postgres.masked(self.url)

    @property
    def home(self) -> Path:
        """Where this state folder's PostgreSQL cluster lives: inside the state folder, except as root, where the
        server runs as the `postgres` OS user, which cannot enter the owner-only state folder: then under /var/tmp,
        in a folder only that user may enter."""
        if os.geteuid() != 0:
            return self.state / "postgres"
        return Path("/var/tmp") / f"simpul-postgres-{hashlib.sha256(str(self.state).encode()).hexdigest()[:10]}"

    def purge(self) -> list[Path]:
        """Delete what this state folder keeps outside itself (as root: its PostgreSQL cluster under /var/tmp);
        the state folder itself is the caller's to delete. Refused while PostgreSQL runs."""
        if recall(self.state, "postgres") is not None:
            raise PlatformError("PostgreSQL still runs: stop the platform first (`simpul platform down`)")
        home = self.home
        if home.is_relative_to(self.state):
            return []
        gone = [p for p in [home, *sorted(home.parent.glob(f"{home.name}.orphaned-*"))] if p.exists()]
        for path in gone:
            shutil.rmtree(path)
        return gone

    def cluster(self, home: Path | None = None) -> postgres.Cluster:
        """Our cluster at `home` (default `home`), with the roles of the settings and the passwords of
        the secrets folder (generated on first use)."""
        s = self.settings
        return postgres.Cluster(postgres.postgres_bin(), home or self.home, s.postgres_port,
                                postgres.roles_of(s), postgres.ensure_passwords(s.secrets_folder))

    def start(self, progress: Progress = lambda _: None) -> None:
        cluster = self.cluster()
        if cluster.home.exists() and not cluster.home.is_relative_to(self.state):
            _check_owned(cluster.home)
        if cluster.initialized() and self._made_with_other_secrets(cluster, refused=False):
            self._set_aside(cluster, progress)
        if not cluster.initialized():
            cluster.init()
        self._launch(cluster)
        try:
            self.secure(cluster, progress)
        except SuperuserRefused:
            if not self._made_with_other_secrets(cluster, refused=True):
                raise
            cluster.stop()
            forget(self.state, "postgres")
            self._set_aside(cluster, progress)
            cluster.init()
            self._launch(cluster)
            self.secure(cluster, progress)

    def _launch(self, cluster: postgres.Cluster) -> None:
        pid = cluster.start()
        remember(self.state, Started(name="postgres", pid=pid, marker=str(cluster.data), address=self.address))

    def secure(self, cluster: postgres.Cluster, progress: Progress) -> None:
        """A running cluster made SCRAM-only (if an earlier version made it with trust) and its roles provisioned;
        then it records the secrets that open it."""
        if not cluster.secured():
            progress("securing PostgreSQL made by an earlier version: SCRAM passwords, owner and application roles")
            cluster.secure_legacy()
        cluster.provision()
        probes.wait_until("postgres", lambda: probes.postgres_answers(self.url), 30, str(cluster.log))
        write_private(cluster.home / MADE_WITH, _fingerprint(cluster.passwords))

    def _made_with_other_secrets(self, cluster: postgres.Cluster, *, refused: bool) -> bool:
        """Whether the secrets folder cannot be the one that made this cluster: its mark names other secrets; or,
        for a cluster of an earlier version (no mark), the superuser password was refused and its file is younger
        than the cluster, so it was generated after the cluster was made."""
        mark = cluster.home / MADE_WITH
        if mark.is_file():
            return mark.read_text().strip() != _fingerprint(cluster.passwords)
        secret = self.settings.secrets_folder / postgres.PASSWORD_FILES["superuser"]
        return refused and secret.stat().st_mtime > (cluster.data / "PG_VERSION").stat().st_mtime

    def _set_aside(self, cluster: postgres.Cluster, progress: Progress) -> None:
        """Move a cluster the secrets folder cannot open out of the way, whole, so that a fresh one can be made."""
        home = cluster.home
        aside = home.with_name(f"{home.name}.orphaned-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
        shutil.move(str(home), str(aside))
        progress(f"PostgreSQL in {home} was made with other secrets than {self.settings.secrets_folder} holds (its "
                 f"state folder was deleted and made anew): set aside as {aside}, a fresh cluster is made. To get "
                 f"the old one back, stop the platform, restore its {postgres.PASSWORD_FILES['superuser']} (and the "
                 f"owner's and application's) in the secrets folder, and move it back; `simpul platform purge` "
                 "deletes it")

    def move_legacy(self, progress: Progress) -> None:
        """As root, move a stopped cluster an earlier version kept inside the state folder to `home`, out
        of the owner-only state folder the `postgres` OS user cannot enter (a data folder moves as it is)."""
        inside, home = self.state / "postgres", self.home
        if home == inside or not (inside / "data" / "PG_VERSION").exists():
            return
        if (home / "data" / "PG_VERSION").exists():
            raise PlatformError(f"two PostgreSQL clusters belong to {self.state}: {inside} (made by an earlier "
                                f"version) and {home}; remove the one you do not need")
        progress(f"moving PostgreSQL from {inside} to {home} (the state folder is owner-only now)")
        if home.exists():
            shutil.rmtree(home)
        shutil.move(str(inside), str(home))
        postgres.chown_to_postgres(home, recursive=True)
        os.chmod(home, 0o700)


def _fingerprint(passwords: postgres.Passwords) -> str:
    """A hash of the superuser's password: tells which secrets made a cluster without keeping the password."""
    return hashlib.sha256(b"simpul-postgres-made-with\0" + passwords.superuser.get_secret_value().encode()).hexdigest()


def _check_owned(home: Path) -> None:
    """A folder under /var/tmp is ours only if root or the `postgres` user owns it and nobody else may enter."""
    st = home.stat(follow_symlinks=False)
    allowed = {0, pwd.getpwnam("postgres").pw_uid}
    if home.is_symlink() or st.st_uid not in allowed or st.st_mode & 0o022:
        raise PlatformError(f"{home} is not a folder of the platform (owner uid {st.st_uid}, mode "
                            f"{oct(st.st_mode & 0o777)}): remove it and start again")
