"""The ``gcs`` artifact driver (google-cloud-storage), argo-contract.md §12.2.

Fields: ``bucket``, ``key`` and ``serviceAccountKeySecret`` (a service-account JSON key; absent →
Application Default Credentials / Workload Identity, or anonymous access when an emulator
endpoint is configured through ``STORAGE_EMULATOR_HOST``). Keys are cleaned first (trailing
``/`` removed), as in Argo.

Where we deliberately differ from Argo's GCS driver:

* **Directories are ``key/`` prefixes, not plain string prefixes.** Argo lists every object whose
  name merely *starts with* the key, so loading ``foo`` also pulls ``foobar`` and ``foo.tgz`` and
  writes them to odd paths (quirk §15.10). We load the object named exactly ``key`` if it exists,
  otherwise every object under ``key + "/"`` — the rule Argo's S3 driver uses. ``list_objects``
  and ``is_directory`` follow the same rule.
* ``open_stream`` streams the object in ranged chunks instead of downloading it to a temporary
  file first, and ``save_stream`` is a resumable upload instead of a temporary copy; neither
  holds more than one chunk in memory.
* ``is_directory`` is implemented (Argo: NotImplemented). ``delete`` of a key ending in ``/``
  deletes everything under it (Argo deletes the exact key only), and deleting a missing object
  succeeds so artifact GC can be re-run.
* Object names that would be written outside the destination directory are refused.

Transient errors follow Argo's ``IsTransientGCSErr`` (see ``_errors``). The SDK's own request
retries are kept short and bounded; whole operations are retried only by ``artifacts.transfer``.
"""

from __future__ import annotations

from artifacts.drivers.gcs.driver import GCSDriver

__all__ = ["GCSDriver"]
