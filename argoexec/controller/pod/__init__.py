"""The pod builder: the pod Argo v4.1's controller creates for a template (legacy layout).

``build_pod(template, ctx)`` is a pure function of a resolved template (all ``{{…}}`` tags
already substituted) and a :class:`PodContext`; ``build_pod_objects`` also returns the
ConfigMap needed when ``ARGO_TEMPLATE`` or args are offloaded. Shapes follow
argo-contract.md §1.1-1.9 and §13.3.

Where this differs from the real controller, and why:

* Secret volumes (and their mounts) come in first-seen order — archive location, outputs,
  inputs, data source; items in order of use. Argo iterates a Go map, so its order is random.
* ``ARGO_TEMPLATE`` keys follow Go's struct order at the top level and inside containers, and
  ``inputs``/``outputs``/``metadata``/``resources`` are always present as in Go; keys nested
  deeper (artifacts, locations) follow our pydantic models, so the JSON is equivalent but may
  not be byte-identical.
* An empty ``command`` is resolved only through ``PodContext.images`` (the controller's
  ``images`` index); there is no offline registry look-up, so an unknown image is an error.
* ``podSpecPatch`` (workflow's, then template's) is merged by our own strategic merge typed
  for a PodSpec (``strategic``): the merge keys of the PodSpec's own lists and its
  containers'; lists nested deeper are atomic.
* Not built (yet): controller ``mainContainer`` defaults, ``kubeConfig``
  volumes/flags, the ``exec-sa-token`` volume (needs an API look-up of the token secret),
  artifact-plugin containers/volumes, tracing env/annotations, the pod-status finalizer, the
  init-less layout (§5), and substitution of ``{{…}}`` tags other than those of the
  repository key format (the caller resolves the template).
* Artifact secret volumes are added for every kind, resource templates included (§1.2, §11.2):
  a resource pod archiving logs needs them on ``wait``. Older Argo code skipped volume
  references and secrets for resource templates.
* On ``wait`` the secret mounts precede the ``/mainctrfs`` mirrors (Argo adds them first); the
  "mirrors, then ``/tmp``, then ``/var/run/argo``" order holds for everything after them.
"""

from argoexec.controller.pod.build import PodObjects, build_pod, build_pod_objects
from argoexec.controller.pod.context import (
    ImageEntrypoint,
    PodBuildError,
    PodContext,
    WorkflowDeadlineExceededError,
)
from argoexec.controller.pod.naming import fnv32a, node_id, pod_name

__all__ = [
    "ImageEntrypoint",
    "PodBuildError",
    "PodContext",
    "PodObjects",
    "WorkflowDeadlineExceededError",
    "build_pod",
    "build_pod_objects",
    "fnv32a",
    "node_id",
    "pod_name",
]
