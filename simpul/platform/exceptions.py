"""Errors of the platform launcher; each message names what to install, free or retry."""

from simpul.exceptions import SimpulError


class PlatformError(SimpulError):
    """The platform could not be started, stopped or inspected."""


class SuperuserRefused(PlatformError):
    """PostgreSQL refuses the superuser password the secrets folder holds: the cluster was made with another."""


class PrerequisiteMissing(PlatformError):
    """A program the local platform needs (java, mvn, PostgreSQL server binaries) is absent or too old."""


class PortTaken(PlatformError):
    """A port the platform wants is held by a process that is not ours."""


class ArtifactDownloadFailed(PlatformError):
    """Maven could not resolve the Kafka or Apicurio artifacts, or a download from Maven Central failed."""


class ChecksumMismatch(ArtifactDownloadFailed):
    """A file downloaded from Maven Central does not match the checksum Central publishes for it."""


class ServiceNotReady(PlatformError):
    """A service started but did not answer within its deadline."""
